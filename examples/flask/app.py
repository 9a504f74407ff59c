"""A small Flask application with a template and a JSON endpoint."""

import os

from flask import Flask, jsonify, render_template

app = Flask(__name__)


@app.route("/")
def index():
    return render_template("index.html", name=os.environ.get("GREETING_NAME", "world"))


@app.route("/api/status")
def status():
    return jsonify(status="ok", pid=os.getpid())
