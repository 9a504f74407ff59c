"""Django management commands: `warp_server` in INSTALLED_APPS adds `manage.py runwarp`."""
