//! A client of the container engine (the Docker Engine API), for the images warp makes.
//!
//! The rest of warp is synchronous, so this module owns a current-thread tokio runtime and
//! every function blocks until the engine has answered; no async type leaves it. The engine
//! is found through `DOCKER_HOST` (a `unix://` socket, else `tcp://`), by default Docker's
//! socket, and the API version is agreed with it first, so old engines (Docker 20.10 speaks
//! 1.41) and new ones are both spoken to in a version they accept.
//!
//! What it does: inspect, load a docker-archive (streamed, never held in memory), export an
//! image as `docker save` does (read as it streams in, the same way), import a root
//! filesystem tar as an image, build a Dockerfile context (streamed too), tag and remove;
//! and run a build's containers ([`Container`]). What it does not do: make the archive (that
//! is [`super::target::docker_archive`]), make sense of an export (that is [`super::base`]),
//! or talk to registries.

mod body;
mod container;

pub use container::{Container, Spec};

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::query_parameters::{BuildImageOptions, CreateImageOptions, ImportImageOptions, RemoveImageOptions, TagImageOptions};
use bollard::Docker;
use futures_util::{StreamExt, TryStreamExt};

use super::Reference;
use crate::env_vars;
use body::{BodyStream, BodyWriter, Finished};

/// Where Docker listens when `DOCKER_HOST` does not say.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";
/// How long the engine has to answer the first request: one that answers nothing in this
/// time is as good as absent.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a load, an import or a build may take: a large root filesystem takes minutes to
/// unpack.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// How many of a failed build's last output lines its error keeps: enough to show the failing
/// step and its command's complaint.
const FAILED_BUILD_LINES: usize = 20;

/// What can go wrong talking to the engine. The causes are boxed: bollard's error is large,
/// and every result of this module would carry its size.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No engine answers where `DOCKER_HOST` (or the default) points.
    #[error("no container engine answers at {host}: start Docker (e.g. `systemctl start docker`) or point DOCKER_HOST at a running one (the build runs in a container, also for --oci)")]
    Unreachable {
        /// The address tried.
        host: String,
        /// Why the connection failed.
        #[source]
        source: Box<bollard::errors::Error>,
    },
    /// The engine answered, but not with the API version it speaks.
    #[error("the engine at {host} did not say which API version it speaks; is it a Docker engine?")]
    Version {
        /// The address tried.
        host: String,
        /// What it answered.
        #[source]
        source: Box<bollard::errors::Error>,
    },
    /// The tokio runtime the client runs on could not be made.
    #[error("cannot start the engine client's runtime")]
    Runtime(#[source] std::io::Error),
    /// A request about one image failed.
    #[error("the engine could not {action} {image}")]
    Request {
        /// What was asked: `inspect`, `load`, `export`, `import`, `build`, `tag`, `remove`.
        action: &'static str,
        /// The image it was about.
        image: String,
        /// The engine's answer.
        #[source]
        source: Box<bollard::errors::Error>,
    },
    /// The docker-archive could not be written into the request.
    #[error("cannot send {image} to the engine")]
    Archive {
        /// The image being loaded.
        image: String,
        /// Why writing it failed.
        #[source]
        source: Box<super::Error>,
    },
    /// The engine's export of an image is not a tar that can be read.
    #[error("the engine's export of {image} cannot be read as a tar; see the engine's log")]
    Export {
        /// The image exported.
        image: String,
        /// Why reading it failed.
        #[source]
        source: std::io::Error,
    },
    /// A root filesystem tar could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The tar.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The files for a container could not be written into the request.
    #[error("cannot send the files for {path} to the container")]
    Upload {
        /// Where they were going in the container.
        path: String,
        /// Why writing them failed.
        #[source]
        source: std::io::Error,
    },
    /// What the engine sent could not be written to a local file.
    #[error(transparent)]
    Local(Box<super::Error>),
    /// A Dockerfile build ran and failed: a step's command failed or the Dockerfile is wrong.
    #[error("the build of {image} failed: {message}\n{}", tail.join("\n"))]
    Build {
        /// The image being built.
        image: String,
        /// What the engine said went wrong.
        message: String,
        /// The build's last output lines, oldest first.
        tail: Vec<String>,
    },
    /// The engine accepted a load or import but has no image under the name afterwards.
    #[error("the engine took {0} but does not list it afterwards; see the engine's log")]
    Missing(String),
    /// After a load, the name points at another image than the one sent.
    #[error("after loading, the engine's {image} is {actual}, not the image sent ({expected}); see the engine's log")]
    Mismatch {
        /// The name loaded.
        image: String,
        /// The ID of the image sent.
        expected: String,
        /// The ID the engine has under the name.
        actual: String,
    },
}

/// Results of this module.
pub type Result<T> = std::result::Result<T, Error>;

/// What the engine says about an image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageInfo {
    /// The image ID, `sha256:...`: the config's digest for the classic image store.
    pub id: String,
    /// The names it is known by.
    pub tags: Vec<String>,
    /// The user its containers run as (empty: root).
    pub user: String,
    /// Its working folder.
    pub working_dir: String,
    /// Its command.
    pub cmd: Vec<String>,
    /// Its `KEY=VALUE` environment.
    pub env: Vec<String>,
    /// The diff IDs of its layers, base first.
    pub layers: Vec<String>,
    /// Its labels.
    pub labels: std::collections::BTreeMap<String, String>,
}

/// One file of an image's export, as [`Engine::export`] hands it over.
pub struct ExportEntry<'a> {
    /// Its path in the archive, e.g. `manifest.json` or `blobs/sha256/<hex>`.
    pub path: &'a Path,
    /// For a link, the path in the archive it points at (a symbolic link's relative target
    /// resolved): `docker save` writes a layer that an image holds twice once, and the second
    /// as a symbolic link to the first.
    pub link: Option<&'a Path>,
    /// Its content, read from the engine's answer as it comes (empty for a link).
    pub content: &'a mut dyn Read,
}

/// A connection to one engine, with the runtime its requests run on.
pub struct Engine {
    runtime: tokio::runtime::Runtime,
    docker: Docker,
    host: String,
}

impl Engine {
    /// Connect to the engine `DOCKER_HOST` names, else Docker's default socket.
    pub fn connect() -> Result<Engine> {
        Self::connect_to(&host(env_vars::get(env_vars::DOCKER_HOST)))
    }

    /// Connect to the engine at `host` (`unix:///path`, `tcp://host:port`) and agree on the
    /// API version.
    pub fn connect_to(host: &str) -> Result<Engine> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(Error::Runtime)?;
        let unreachable = |source| Error::Unreachable { host: host.to_string(), source: Box::new(source) };
        // The client spawns its connection tasks on the runtime, so it is made inside it.
        let docker = {
            let _entered = runtime.enter();
            Docker::connect_with_host(host).map_err(unreachable)?.with_timeout(CONNECT_TIMEOUT)
        };
        // bollard asks `/v{its version}/version`, which an engine older than bollard refuses
        // ("client version is too new") before saying its own. Asked without a version prefix,
        // every engine answers with the newest version it speaks. The probe shares the
        // client's version, so agreeing on it here sets it for every later request.
        let probe = docker.clone().with_request_modifier(unversioned);
        runtime.block_on(probe.negotiate_version()).map_err(|source| match source {
            bollard::errors::Error::DockerResponseServerError { .. }
            | bollard::errors::Error::JsonDataError { .. }
            | bollard::errors::Error::JsonSerdeError { .. }
            | bollard::errors::Error::APIVersionParseError {} => Error::Version { host: host.to_string(), source: Box::new(source) },
            other => unreachable(other),
        })?;
        Ok(Engine { runtime, docker: docker.with_timeout(REQUEST_TIMEOUT), host: host.to_string() })
    }

    /// The address connected to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The API version agreed with the engine, e.g. `1.41`.
    pub fn api_version(&self) -> String {
        let version = self.docker.client_version();
        format!("{}.{}", version.major_version, version.minor_version)
    }

    /// Whether the engine keeps images in the classic image store (every engine before
    /// Docker 25, and later ones unless the containerd store is turned on), which loads the
    /// `manifest.json` form of a docker-archive and skips the layers it holds already.
    pub fn has_classic_image_store(&self) -> Result<bool> {
        let version = self.docker.client_version();
        // API 1.44 is Docker 25, the first with the containerd image store.
        if (version.major_version, version.minor_version) < (1, 44) {
            return Ok(true);
        }
        let info = self.runtime.block_on(self.docker.info()).map_err(|source| request_error("describe", "itself", source))?;
        let containerd =
            info.driver_status.unwrap_or_default().iter().flatten().any(|value| value.starts_with("io.containerd.snapshotter"));
        Ok(!containerd)
    }

    /// What the engine knows of `image` (a `name:tag` or an ID), `None` when it has none.
    pub fn inspect(&self, image: &str) -> Result<Option<ImageInfo>> {
        match self.runtime.block_on(self.docker.inspect_image(image)) {
            Ok(inspect) => Ok(Some(image_info(inspect))),
            Err(source) if not_found(&source) => Ok(None),
            Err(source) => Err(request_error("inspect", image, source)),
        }
    }

    /// Whether the engine has `image`.
    pub fn exists(&self, image: &str) -> Result<bool> {
        self.inspect(image).map(|info| info.is_some())
    }

    /// Load a docker-archive that `write` writes, as `POST /images/load` streams it, then
    /// return the image the archive names `reference`.
    pub fn load<F>(&self, reference: &Reference, write: F) -> Result<ImageInfo>
    where
        F: FnOnce(&mut dyn Write) -> super::Result<()> + Send,
    {
        let image = reference.to_string();
        let (finished, answer) = self.send_body(
            |writer| write(writer),
            |stream| {
                self.docker.import_image_stream(ImportImageOptions { quiet: true, platform: None }, stream, None).try_collect::<Vec<_>>()
            },
        );
        if let Finished::Failed(source) = finished {
            // The archive could not be written: that is the cause; the engine's answer to the
            // broken request it got says less.
            return Err(Error::Archive { image, source: Box::new(source) });
        }
        answer.map_err(|source| request_error("load", &image, source))?;
        self.inspect(&image)?.ok_or(Error::Missing(image))
    }

    /// Export `image` (a name or an ID) as `docker save` does (`GET /images/{name}/get`) and
    /// hand each file of the archive to `on_entry` in the order the engine sends them;
    /// folders are left out, as they hold nothing of their own. The archive is read as it
    /// streams in, never held in memory or written anywhere, so what `on_entry` does not
    /// read of an entry is passed over.
    ///
    /// The first error `on_entry` returns ends the export and is returned as it is. When the
    /// engine fails, its error is returned instead (made into `E`), as it is the cause of
    /// whatever the reading ran into.
    pub fn export<E, F>(&self, image: &str, mut on_entry: F) -> std::result::Result<(), E>
    where
        E: From<Error>,
        F: FnMut(ExportEntry<'_>) -> std::result::Result<(), E>,
    {
        let (sender, reader) = body::receiver();
        let (answer, read) = std::thread::scope(|scope| {
            // The request runs on a thread of its own, so `on_entry` runs on the caller's and
            // needs to be neither `Send` nor async.
            let request = scope.spawn(move || {
                self.runtime.block_on(async move {
                    let mut pieces = self.docker.export_image(image);
                    while let Some(piece) = pieces.next().await {
                        let piece = match piece {
                            Ok(piece) => piece,
                            Err(source) => {
                                // The reader must see a broken archive, not one that ends.
                                let _ = sender.send(Err(std::io::Error::other("the engine's answer broke off"))).await;
                                return Err(source);
                            }
                        };
                        if sender.send(Ok(piece)).await.is_err() {
                            return Ok(()); // the reader has what it wanted, or has failed
                        }
                    }
                    Ok(())
                })
            });
            // Reading ends by dropping the reader, which ends the request's sending.
            let read = read_entries(reader, &mut on_entry);
            (request.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)), read)
        });
        answer.map_err(|source| request_error("export", image, source))?;
        match read {
            Ok(()) => Ok(()),
            Err(ReadEnd::Entry(err)) => Err(err),
            Err(ReadEnd::Archive(source)) => Err(Error::Export { image: image.to_string(), source }.into()),
        }
    }

    /// Pull `image` (`name:tag`) from its registry as `docker pull` does, each line of
    /// progress going to `on_line`.
    pub fn pull(&self, image: &str, on_line: &mut dyn FnMut(&str)) -> Result<ImageInfo> {
        let options = CreateImageOptions { from_image: Some(image.to_string()), ..Default::default() };
        self.runtime.block_on(async {
            let mut progress = self.docker.create_image(Some(options), None, None);
            while let Some(item) = progress.next().await {
                let info = item.map_err(|source| request_error("pull", image, source))?;
                if let Some(line) = info.status.as_deref().filter(|line| !line.is_empty()) {
                    on_line(&format!("{}{line}", info.id.map(|id| format!("{id}: ")).unwrap_or_default()));
                }
            }
            Ok(())
        })?;
        self.inspect(image)?.ok_or_else(|| Error::Missing(image.to_string()))
    }

    /// Import the root filesystem tar at `rootfs` as a one-layer image named `reference`
    /// (`POST /images/create?fromSrc=-`), with Dockerfile-style `changes` to its config such
    /// as `ENV PATH=...` or `CMD ["python3"]`.
    pub fn import(&self, rootfs: &Path, reference: &Reference, changes: &[String]) -> Result<ImageInfo> {
        let image = reference.to_string();
        let read_error = |source| Error::Read { path: rootfs.to_path_buf(), source };
        let mut file = std::fs::File::open(rootfs).map_err(read_error)?;
        let options = CreateImageOptions {
            from_src: Some("-".to_string()),
            repo: Some(reference.name().to_string()),
            tag: Some(reference.tag().to_string()),
            changes: changes.to_vec(),
            ..Default::default()
        };
        let (finished, answer) = self.send_body(
            |writer| std::io::copy(&mut file, writer).map(drop),
            |stream| self.docker.create_image(Some(options), Some(bollard::body_try_stream(stream)), None).try_collect::<Vec<_>>(),
        );
        if let Finished::Failed(source) = finished {
            return Err(read_error(source));
        }
        answer.map_err(|source| request_error("import", &image, source))?;
        self.inspect(&image)?.ok_or(Error::Missing(image))
    }

    /// Build the Dockerfile context (a tar) that `write` writes, as `POST /build` streams it,
    /// with the build arguments `args`, and name the result `reference`. Each line the build
    /// prints goes to `on_line` as it comes. Intermediate containers are removed also when a
    /// step fails, so a failed build leaves none behind.
    pub fn build<F>(&self, reference: &Reference, args: &[(&str, &str)], write: F, on_line: &mut dyn FnMut(&str)) -> Result<ImageInfo>
    where
        F: FnOnce(&mut dyn Write) -> super::Result<()> + Send,
    {
        let image = reference.to_string();
        let options = BuildImageOptions {
            t: Some(image.clone()),
            buildargs: Some(args.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<HashMap<_, _>>()),
            rm: true,
            forcerm: true,
            ..Default::default()
        };
        let mut tail = VecDeque::with_capacity(FAILED_BUILD_LINES);
        let (finished, answer) = self.send_body(
            |writer| write(writer),
            |stream| {
                let tail = &mut tail;
                async move {
                    let mut output = self.docker.build_image(options, None, Some(bollard::body_try_stream(stream)));
                    while let Some(item) = output.next().await {
                        let info = item.map_err(BuildEnd::Request)?;
                        if let Some(detail) = info.error_detail {
                            return Err(BuildEnd::Failed(detail.message.unwrap_or_default()));
                        }
                        // The engine sends output in pieces that may hold several lines or
                        // end mid-line; lines are what the caller shows.
                        for line in info.stream.iter().chain(info.status.iter()).flat_map(|text| text.lines()) {
                            let line = line.trim_end();
                            if line.is_empty() {
                                continue;
                            }
                            on_line(line);
                            if tail.len() == FAILED_BUILD_LINES {
                                tail.pop_front();
                            }
                            tail.push_back(line.to_string());
                        }
                    }
                    Ok(())
                }
            },
        );
        if let Finished::Failed(source) = finished {
            return Err(Error::Archive { image, source: Box::new(source) });
        }
        let failed = |message: String, tail: VecDeque<String>| Error::Build { image: image.clone(), message, tail: tail.into() };
        match answer {
            Ok(()) => {}
            Err(BuildEnd::Failed(message)) => return Err(failed(message, tail)),
            Err(BuildEnd::Request(bollard::errors::Error::DockerStreamError { error })) => return Err(failed(error, tail)),
            Err(BuildEnd::Request(source)) => return Err(request_error("build", &image, source)),
        }
        self.inspect(&image)?.ok_or(Error::Missing(image))
    }

    /// Run `request` with a body that `produce` writes on another thread as it is sent.
    fn send_body<E, T, Fut>(
        &self,
        produce: impl FnOnce(&mut BodyWriter) -> std::result::Result<(), E> + Send,
        request: impl FnOnce(BodyStream) -> Fut,
    ) -> (Finished<E>, Fut::Output)
    where
        E: Send,
        Fut: Future<Output = T>,
    {
        let (mut writer, stream) = body::channel();
        std::thread::scope(|scope| {
            let producer = scope.spawn(move || {
                let written = produce(&mut writer);
                writer.finish(written)
            });
            // When the request ends early, it drops the stream, and the producer's next
            // write fails, so the join below cannot wait forever.
            let answer = self.runtime.block_on(request(stream));
            let finished = producer.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (finished, answer)
        })
    }

    /// Name the image `image` (an ID or a name) `reference` too, moving the tag if another
    /// image had it.
    pub fn tag(&self, image: &str, reference: &Reference) -> Result<()> {
        let options = TagImageOptions { repo: Some(reference.name().to_string()), tag: Some(reference.tag().to_string()) };
        self.runtime.block_on(self.docker.tag_image(image, Some(options))).map_err(|source| request_error("tag", image, source))
    }

    /// Remove the name `image` (and the image, when no other name or container holds it).
    /// Returns whether there was one to remove.
    pub fn remove(&self, image: &str) -> Result<bool> {
        let options = RemoveImageOptions { force: false, noprune: false, platforms: None };
        match self.runtime.block_on(self.docker.remove_image(image, Some(options), None)) {
            Ok(_) => Ok(true),
            Err(source) if not_found(&source) => Ok(false),
            Err(source) => Err(request_error("remove", image, source)),
        }
    }
}

/// Why the reading of an export ended before its end.
pub(crate) enum ReadEnd<E> {
    /// The caller's handling of an entry failed.
    Entry(E),
    /// The archive could not be read.
    Archive(std::io::Error),
}

/// Hand each file and link of the tar `reader` reads to `on_entry`.
pub(crate) fn read_entries<E>(
    reader: impl Read,
    on_entry: &mut impl FnMut(ExportEntry<'_>) -> std::result::Result<(), E>,
) -> std::result::Result<(), ReadEnd<E>> {
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(ReadEnd::Archive)? {
        let mut entry = entry.map_err(ReadEnd::Archive)?;
        if entry.header().entry_type().is_dir() {
            continue;
        }
        let path = entry.path().map_err(ReadEnd::Archive)?.into_owned();
        let target = entry.link_name().map_err(ReadEnd::Archive)?;
        let link = match (entry.header().entry_type(), target) {
            (tar::EntryType::Symlink, Some(target)) => Some(in_archive(path.parent().unwrap_or(Path::new("")), &target)),
            (tar::EntryType::Link, Some(target)) => Some(in_archive(Path::new(""), &target)),
            _ => None,
        };
        on_entry(ExportEntry { path: &path, link: link.as_deref(), content: &mut entry }).map_err(ReadEnd::Entry)?;
    }
    Ok(())
}

/// The path in an archive that `target` names from the folder `from`: `..` goes up, and
/// nothing goes above the archive's root.
fn in_archive(from: &Path, target: &Path) -> PathBuf {
    let mut path = PathBuf::new();
    for component in from.join(target).components() {
        match component {
            std::path::Component::Normal(part) => path.push(part),
            std::path::Component::ParentDir => {
                path.pop();
            }
            _ => {}
        }
    }
    path
}

/// Why a build's output stream ended before the build succeeded.
enum BuildEnd {
    /// The request itself failed.
    Request(bollard::errors::Error),
    /// The build ran and reported this error.
    Failed(String),
}

/// The engine's address: `DOCKER_HOST`'s value when set, else Docker's socket.
fn host(docker_host: Option<String>) -> String {
    docker_host.unwrap_or_else(|| DEFAULT_HOST.to_string())
}

/// The request without its `/v1.xx` prefix: the engine then takes it as of its own version.
fn unversioned(mut request: bollard::BollardRequest) -> bollard::BollardRequest {
    let uri = request.uri();
    let path = uri.path();
    let rest = path.strip_prefix("/v").and_then(|p| p.find('/').map(|slash| &p[slash..]));
    if let Some(rest) = rest {
        let path_and_query = match uri.query() {
            Some(query) => format!("{rest}?{query}"),
            None => rest.to_string(),
        };
        let mut parts = uri.clone().into_parts();
        if let Ok(path_and_query) = path_and_query.parse() {
            parts.path_and_query = Some(path_and_query);
            if let Ok(uri) = http::Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
    }
    request
}

fn request_error(action: &'static str, image: &str, source: bollard::errors::Error) -> Error {
    Error::Request { action, image: image.to_string(), source: Box::new(source) }
}

fn not_found(error: &bollard::errors::Error) -> bool {
    matches!(error, bollard::errors::Error::DockerResponseServerError { status_code: 404, .. })
}

fn image_info(inspect: bollard::models::ImageInspect) -> ImageInfo {
    let config = inspect.config.unwrap_or_default();
    ImageInfo {
        id: inspect.id.unwrap_or_default(),
        tags: inspect.repo_tags.unwrap_or_default(),
        user: config.user.unwrap_or_default(),
        working_dir: config.working_dir.unwrap_or_default(),
        cmd: config.cmd.unwrap_or_default(),
        env: config.env.unwrap_or_default(),
        layers: inspect.root_fs.and_then(|root| root.layers).unwrap_or_default(),
        labels: config.labels.unwrap_or_default().into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_host_names_the_engine_else_dockers_socket() {
        assert_eq!(host(Some("unix:///run/user/1000/docker.sock".into())), "unix:///run/user/1000/docker.sock");
        assert_eq!(host(None), "unix:///var/run/docker.sock");
    }

    #[test]
    fn a_link_in_an_export_names_a_path_in_the_archive() {
        let layer = Path::new("aaa/layer.tar");
        assert_eq!(in_archive(Path::new("bbb"), Path::new("../aaa/layer.tar")), layer);
        assert_eq!(in_archive(Path::new(""), Path::new("aaa/layer.tar")), layer);
        assert_eq!(in_archive(Path::new("bbb"), Path::new("/../../aaa/./layer.tar")), layer);
    }

    #[test]
    fn unversioned_strips_only_the_version_prefix() {
        let request = |uri: &str| http::Request::builder().uri(uri).body(bollard::body_full(bytes::Bytes::new())).unwrap();
        let cases = [
            ("http://localhost/v1.53/version", "http://localhost/version"),
            ("http://localhost/v1.41/images/app:1/json?x=1", "http://localhost/images/app:1/json?x=1"),
            ("http://localhost/version", "http://localhost/version"),
        ];
        for (from, to) in cases {
            assert_eq!(unversioned(request(from)).uri().to_string(), to);
        }
    }
}
