//! `warp s2i`: source-to-image builds through the Engine API, as the s2i tool makes them, with
//! any builder image that follows the s2i conventions (warp's own, or the OpenShift Python
//! builder).
//!
//! The protocol, as the s2i tool speaks it:
//! 1. The builder's labels say where its scripts are (`io.openshift.s2i.scripts-url`,
//!    `image:///usr/libexec/s2i`) and where the input goes (`io.openshift.s2i.destination`,
//!    `/tmp` by default).
//! 2. For an incremental build, `save-artifacts` runs in a container of the previous image
//!    of the same name; the tar it writes on its standard output is the artifacts.
//! 3. A container of the builder gets one tar on its standard input, unpacked into the
//!    destination by `/bin/sh -c "tar -C DEST -xf - && .../assemble"`: the source under
//!    `src/`, the artifacts under `artifacts/`, and the app's own `.s2i/bin` scripts under
//!    `scripts/`, which win over the builder's.
//! 4. The container, once assemble succeeds, is committed as the image: its command is the
//!    `run` script, and `io.openshift.s2i.build.*` labels say what it was built from.
//!
//! As the s2i tool does, the app's `.s2i/environment` and then `--env` are set for assemble
//! and in the image.
//!
//! What warp adds: package index settings and a CA bundle reach `assemble` only (set on its
//! command line, and the bundle removed before the commit), never the image; a failed build
//! leaves no container and moves no tag. On a builder that keeps the app in one folder, as
//! warp's own does, the image's layers are cut from that folder instead of committing the
//! container, and an incremental build can reuse the previous image's dependency layer as it
//! is ([`layered`]).

mod input;
mod layered;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::image::engine::{self, Container, Engine, ImageInfo};
use crate::image::{make, target, Reference};
use crate::layout::Layout;
use crate::report::{step, Reporter};

/// The label that says where a builder's scripts are.
const SCRIPTS_URL: &str = "io.openshift.s2i.scripts-url";
/// The label that says where the input tar is unpacked.
const DESTINATION: &str = "io.openshift.s2i.destination";
/// Where the input goes when the builder does not say.
const DEFAULT_DESTINATION: &str = "/tmp";
/// The file the CA bundle is given to assemble as, in the destination; removed before the
/// commit.
const CA_FILE: &str = "warp-build-ca.pem";
/// The label of a build's containers whose value is the pid of the warp that made them.
pub const OWNER_LABEL: &str = "dev.warp.s2i.build.pid";
/// The label of a build's containers whose value is the image being built.
pub const BUILD_LABEL: &str = "dev.warp.s2i.build";

/// What to build.
pub struct Request<'a> {
    /// The app: its source folder, and warp's cache for the layers warp writes.
    pub layout: &'a Layout,
    /// The builder image.
    pub builder: String,
    /// The image to make.
    pub tag: Reference,
    /// Restore the previous image's artifacts (when there is one) before assembling.
    pub incremental: bool,
    /// `KEY=VALUE` variables for the build and the image, as the s2i tool's `--env`.
    pub env: Vec<String>,
    /// `KEY=VALUE` variables for assemble only: package index settings.
    pub build_env: Vec<String>,
    /// A CA bundle for assemble only.
    pub ca_cert: Option<PathBuf>,
    /// An image to put the app into instead of committing the builder's container: the
    /// built `/opt/app-root` (the venv and the source) goes on top of it, with warp. It must
    /// have the builder's Python at the same path, as the base the builder was made from does.
    pub runtime_image: Option<String>,
}

/// What a build made.
pub struct Built {
    /// The image.
    pub image: ImageInfo,
    /// Whether the previous image's artifacts were restored.
    pub incremental: bool,
}

/// Where a builder keeps its scripts and wants its input.
struct Builder {
    info: ImageInfo,
    scripts: String,
    destination: String,
}

impl Builder {
    fn inspect(engine: &Engine, name: &str) -> Result<Builder> {
        let info = engine.inspect(name)?.with_context(|| {
            format!("the builder image {name} is not in the engine: pull or build it first (`warp image` builds warp's own)")
        })?;
        let scripts = match info.labels.get(SCRIPTS_URL) {
            Some(url) => url
                .strip_prefix("image://")
                .with_context(|| {
                    format!("{name}'s {SCRIPTS_URL} is {url}: warp runs only scripts inside the image (image:///path); give the scripts in the app's .s2i/bin")
                })?
                .to_string(),
            None => bail!("{name} has no {SCRIPTS_URL} label, so it is not an s2i builder: name one that is"),
        };
        let destination = info.labels.get(DESTINATION).cloned().unwrap_or_else(|| DEFAULT_DESTINATION.to_string());
        Ok(Builder { info, scripts, destination })
    }

    /// The path of the script `name`: the app's own when it gives one, else the builder's.
    fn script(&self, name: &str, app_scripts: &[String]) -> String {
        if app_scripts.iter().any(|script| script == name) {
            format!("{}/scripts/{name}", self.destination)
        } else {
            format!("{}/{name}", self.scripts)
        }
    }
}

/// Build `request` on `engine`, each step reported to `reporter`.
pub fn build(engine: &Engine, request: &Request, reporter: &dyn Reporter) -> Result<Built> {
    let builder = Builder::inspect(engine, &request.builder)?;
    let app_scripts = input::app_scripts(&request.layout.src);
    let env = image_env(request)?;
    if layered::applies(&builder, &app_scripts, request) {
        return layered::build(engine, request, &builder, &env, reporter);
    }
    let scratch = tempfile::tempdir().context("cannot make a temporary folder")?;
    let artifacts = if request.incremental { save_artifacts(engine, request, &builder, scratch.path(), reporter)? } else { None };
    let container = assemble(engine, request, &builder, &env, &app_scripts, artifacts.as_deref(), reporter)?;

    if let Some(runtime) = &request.runtime_image {
        let made = make::on_runtime(engine, &container, runtime, &request.layout.cache, build_labels(request), reporter)?;
        let image = step(reporter, &format!("load into the engine as {}", request.tag), || {
            let info = target::engine::load(engine, &made.image, &request.tag, &[made.base_id.as_str()])?;
            Ok((info, "loaded".to_string()))
        })?;
        return Ok(Built { image, incremental: artifacts.is_some() });
    }
    let image = step(reporter, &format!("commit as {}", request.tag), || {
        let run = builder.script("run", &app_scripts);
        let mut changes = vec![format!("CMD {}", serde_json::to_string(&[run]).expect("a list of strings serialises"))];
        for (key, value) in build_labels(request) {
            changes.push(format!("LABEL {key}={}", serde_json::to_string(&value).expect("a string serialises")));
        }
        let image = container.commit(&request.tag, &changes)?;
        let id = image.id.clone();
        Ok((image, id))
    })?;
    Ok(Built { image, incremental: artifacts.is_some() })
}

/// The variables of the build and the image, as the s2i tool sets them: the app's
/// `.s2i/environment`, then `--env`, a later assignment of a name replacing an earlier one.
fn image_env(request: &Request) -> Result<Vec<String>> {
    let file = request.layout.src.join(".s2i").join("environment");
    let mut env = match std::fs::read_to_string(&file) {
        Ok(text) => crate::appenv::parse_assignments(&text, ".s2i/environment")?
            .into_iter()
            .map(|(_, key, value)| format!("{key}={value}"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.display())),
    };
    env.extend(request.env.iter().cloned());
    Ok(with_last_assignments(env))
}

/// `lines` (`KEY=VALUE`) with only the last assignment of each name, in the order of those.
fn with_last_assignments(lines: Vec<String>) -> Vec<String> {
    let key = |line: &str| line.split('=').next().unwrap_or_default().to_string();
    let mut kept: Vec<String> = Vec::new();
    for line in lines {
        kept.retain(|old| key(old) != key(&line));
        kept.push(line);
    }
    kept
}

/// Run assemble (the app's, else the builder's) in a new container of the builder, with the
/// variables `env`, the input on its standard input and `artifacts` in it; the container,
/// once assemble succeeded.
fn assemble<'e>(
    engine: &'e Engine,
    request: &Request,
    builder: &Builder,
    env: &[String],
    app_scripts: &[String],
    artifacts: Option<&Path>,
    reporter: &dyn Reporter,
) -> Result<Container<'e>> {
    let assemble = builder.script("assemble", app_scripts);
    let command = assemble_command(&builder.destination, &assemble, &request.build_env, request.ca_cert.is_some());
    let cmd = ["/bin/sh".to_string(), "-c".to_string(), command];
    let pid = std::process::id().to_string();
    let labels = [(OWNER_LABEL, pid.as_str())];
    let spec = engine::Spec { image: &builder.info.id, user: "", cmd: &cmd, env, working_dir: "", labels: &labels, stdin: true };
    step(reporter, "assemble", || {
        let container = engine.create_container(&spec)?;
        let parts =
            input::Parts { src: &request.layout.src, artifacts, app_scripts, ca_cert: request.ca_cert.as_deref(), ca_name: CA_FILE };
        let code = container.run_with_input(|out| input::write(&parts, out), &mut |line| reporter.output(line))?;
        if code != 0 {
            bail!("{assemble} failed in the build container (exit code {code}): its output is above; fix what it names and build again");
        }
        Ok((container, "done".to_string()))
    })
}

/// The artifacts of the image `request.tag` names now, from its `save-artifacts`, as a tar
/// in `scratch`; `None` when there is no such image or it saves none.
fn save_artifacts(
    engine: &Engine,
    request: &Request,
    builder: &Builder,
    scratch: &Path,
    reporter: &dyn Reporter,
) -> Result<Option<PathBuf>> {
    let previous = request.tag.to_string();
    let Some(info) = engine.inspect(&previous)? else {
        reporter.info(&format!("no image {previous} yet: a clean build"));
        return Ok(None);
    };
    step(reporter, &format!("save-artifacts of {previous}"), || {
        // The previous image runs its own scripts: those it was built with.
        let script = format!("{}/save-artifacts", builder.scripts);
        let cmd = [script.clone()];
        let pid = std::process::id().to_string();
        let labels = [(OWNER_LABEL, pid.as_str()), (BUILD_LABEL, previous.as_str())];
        let spec = engine::Spec { image: &info.id, user: "", cmd: &cmd, env: &[], working_dir: "", labels: &labels, stdin: false };
        let container = engine.create_container(&spec)?;
        let path = scratch.join("artifacts.tar");
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).with_context(|| format!("cannot write {}", path.display()))?);
        let code = container.run_capturing(&mut file, &mut |line| reporter.output(line))?;
        std::io::Write::flush(&mut file).with_context(|| format!("cannot write {}", path.display()))?;
        if code != 0 {
            reporter.warn(&format!("{script} failed in {previous} (exit code {code}): a clean build instead"));
            return Ok((None, "none".to_string()));
        }
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        Ok((Some(path), crate::image::make::bytes(size)))
    })
}

/// The command the build container runs: unpack the input, run assemble with the build's
/// own variables, then remove what must not be in the image (the CA bundle, the artifacts
/// once restored), ending with assemble's status.
fn assemble_command(destination: &str, assemble: &str, build_env: &[String], ca: bool) -> String {
    let mut assignments: Vec<String> = build_env.to_vec();
    if ca {
        let bundle = format!("{destination}/{CA_FILE}");
        assignments.extend(crate::env_vars::CA_BUNDLES.map(|var| format!("{var}={bundle}")));
    }
    let quoted: Vec<String> = assignments.iter().map(|line| shell_words::quote(line).into_owned()).collect();
    let prefix = if quoted.is_empty() { String::new() } else { format!("env {} ", quoted.join(" ")) };
    let dest = shell_words::quote(destination);
    format!(
        "tar -C {dest} -xf - && {{ {prefix}{assemble}; status=$?; rm -rf {dest}/{CA_FILE} {dest}/artifacts; exit $status; }}",
        assemble = shell_words::quote(assemble)
    )
}

/// The `io.openshift.s2i.build.*` labels the s2i tool writes: the builder, the source, and
/// its commit when it is a git repository.
fn build_labels(request: &Request) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    labels.insert("io.openshift.s2i.build.image".to_string(), request.builder.clone());
    let src = &request.layout.src;
    labels.insert("io.openshift.s2i.build.source-location".to_string(), src.display().to_string());
    let git = |args: &[&str]| crate::process::git_text(src, args);
    let fields = [
        ("commit.id", &["rev-parse", "--verify", "-q", "HEAD"][..]),
        ("commit.ref", &["rev-parse", "--abbrev-ref", "HEAD"][..]),
        ("commit.author", &["log", "-1", "--format=%an <%ae>"][..]),
        ("commit.date", &["log", "-1", "--format=%ad"][..]),
        ("commit.message", &["log", "-1", "--format=%s"][..]),
    ];
    for (field, args) in fields {
        if let Some(value) = git(args) {
            labels.insert(format!("io.openshift.s2i.build.{field}"), value);
        }
    }
    if let Some(url) = git(&["config", "--get", "remote.origin.url"]) {
        labels.insert("io.openshift.s2i.build.source-location".to_string(), url);
    }
    labels
}

/// What the builder's `usage` script prints.
pub fn usage(engine: &Engine, builder: &str) -> Result<String> {
    let builder = Builder::inspect(engine, builder)?;
    let cmd = [format!("{}/usage", builder.scripts)];
    let pid = std::process::id().to_string();
    let labels = [(OWNER_LABEL, pid.as_str())];
    let spec = engine::Spec { image: &builder.info.id, user: "", cmd: &cmd, env: &[], working_dir: "", labels: &labels, stdin: false };
    let container = engine.create_container(&spec)?;
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let code = container.run_capturing(&mut out, &mut |line| errors.push(line.to_string()))?;
    if code != 0 {
        bail!("{} failed (exit code {code}): {}", cmd[0], errors.last().map(String::as_str).unwrap_or("it printed nothing on stderr"));
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_assignment_of_a_name_replaces_the_earlier_one() {
        let lines = ["A=1", "B=2", "A=3", "C=", "B=x=y"].map(String::from).to_vec();
        assert_eq!(with_last_assignments(lines), ["A=3", "C=", "B=x=y"]);
    }

    #[test]
    fn the_build_variables_reach_assemble_only_and_the_bundle_is_removed() {
        let command = assemble_command("/tmp", "/usr/libexec/s2i/assemble", &["PIP_INDEX_URL=http://x/simple y".to_string()], true);
        assert!(
            command.starts_with("tar -C /tmp -xf - && { env 'PIP_INDEX_URL=http://x/simple y' 'SSL_CERT_FILE=/tmp/warp-build-ca.pem'"),
            "{command}"
        );
        assert!(
            command.contains(" /usr/libexec/s2i/assemble; status=$?; rm -rf /tmp/warp-build-ca.pem /tmp/artifacts; exit $status; }"),
            "{command}"
        );
        let plain = assemble_command("/tmp", "/tmp/scripts/assemble", &[], false);
        assert_eq!(
            plain,
            "tar -C /tmp -xf - && { /tmp/scripts/assemble; status=$?; rm -rf /tmp/warp-build-ca.pem /tmp/artifacts; exit $status; }"
        );
    }
}
