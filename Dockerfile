# The warp builder image: warp, its server module and (when given) uv on a Python base, with
# the OpenShift conventions s2i builders follow (user 1001 in group 0, /opt/app-root).
#
# The build context is not this repository as it stands: it must carry warp's prebuilt
# files under dist/, laid out as they go into the image (see builders/README.md). `warp`
# makes that context itself and builds it through the engine's API, so the build needs no
# compiler and no network.
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}

# dev.warp.s2i.layers: assemble leaves all of the app in /opt/app-root, so `warp s2i build`
# may cut the image's layers from that folder instead of committing the build container.
LABEL io.k8s.description="Builds and runs Python web applications with warp: a virtual environment, the dependencies and warp's own WSGI server." \
      io.k8s.display-name="warp Python builder" \
      io.openshift.expose-services="8080:http" \
      io.openshift.tags="builder,python,warp" \
      io.openshift.s2i.scripts-url="image:///usr/libexec/s2i" \
      io.openshift.s2i.destination="/tmp" \
      dev.warp.s2i.layers="/opt/app-root"

# The venv gets pip, as the OpenShift Python builder's has it: s2i users' own assemble
# scripts and hooks run pip.
ENV APP_ROOT=/opt/app-root \
    HOME=/opt/app-root/src \
    PATH=/opt/app-root/bin:/opt/warp/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    WARP_SERVER_MODULE=/opt/warp/lib/libwarp_server.so \
    WARP_SEED_PIP=true \
    STI_SCRIPTS_PATH=/usr/libexec/s2i

# warp and its server module in /opt/warp, where app images have them too, and uv (a build
# tool only) in /usr/local/bin: straight to where they belong, one layer, nothing copied twice.
COPY dist/ /
COPY builders/setup.sh /tmp/warp-setup.sh
RUN sh /tmp/warp-setup.sh && rm /tmp/warp-setup.sh
# The s2i scripts (assemble, run, save-artifacts, usage) and the file they share, last: a
# change to them rebuilds this small layer only.
COPY s2i/bin/ /usr/libexec/s2i/

USER 1001
WORKDIR /opt/app-root/src
EXPOSE 8080
CMD ["warp", "start"]
