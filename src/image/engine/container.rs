//! Containers that run a command once, for a build: made, given files, run to the end with
//! their output passed on line by line, read back, and removed.
//!
//! A [`Container`] removes itself when dropped, so a build that fails at any step (or whose
//! caller returns early) leaves no container behind; one whose process is ended by a signal
//! finds its containers by their labels ([`Engine::remove_containers_labelled`]).

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    AttachContainerOptions, CommitContainerOptions, CreateContainerOptions, DownloadFromContainerOptions, ListContainersOptions,
    LogsOptions, RemoveContainerOptions, UploadToContainerOptions, WaitContainerOptions,
};
use futures_util::{StreamExt, TryStreamExt};
use tokio::io::AsyncWriteExt;

use super::body::Finished;
use super::{request_error, Engine, Error, ImageInfo, Result};
use crate::image::Reference;

/// What a container is made from and runs.
pub struct Spec<'a> {
    /// The image.
    pub image: &'a str,
    /// The user it runs as, e.g. `1001:0`.
    pub user: &'a str,
    /// The command.
    pub cmd: &'a [String],
    /// `KEY=VALUE` lines added to the image's environment.
    pub env: &'a [String],
    /// The working folder.
    pub working_dir: &'a str,
    /// Labels that say what the container is for (`docker ps --filter label=...`).
    pub labels: &'a [(&'a str, &'a str)],
    /// Whether the command reads a standard input that [`Container::run_with_input`] gives.
    pub stdin: bool,
}

/// A container made on an engine, removed (with whatever it wrote) when dropped.
pub struct Container<'e> {
    engine: &'e Engine,
    id: String,
}

impl Engine {
    /// Make a container of `spec`, not started yet.
    pub fn create_container(&self, spec: &Spec) -> Result<Container<'_>> {
        let body = ContainerCreateBody {
            image: Some(spec.image.to_string()),
            user: Some(spec.user.to_string()).filter(|user| !user.is_empty()),
            cmd: Some(spec.cmd.to_vec()),
            env: Some(spec.env.to_vec()),
            working_dir: Some(spec.working_dir.to_string()).filter(|dir| !dir.is_empty()),
            labels: Some(spec.labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            // Its output is read through the logs, which keep what came before the reader, or
            // through an attach made before the start.
            attach_stdout: Some(false),
            attach_stderr: Some(false),
            attach_stdin: Some(spec.stdin),
            open_stdin: Some(spec.stdin),
            // The input ends when the writer closes it, and the command sees its end.
            stdin_once: Some(spec.stdin),
            host_config: Some(HostConfig { auto_remove: Some(false), ..Default::default() }),
            ..Default::default()
        };
        let created = self
            .runtime
            .block_on(self.docker.create_container(None::<CreateContainerOptions>, body))
            .map_err(|source| request_error("create a container of", spec.image, source))?;
        Ok(Container { engine: self, id: created.id })
    }
}

impl Engine {
    /// Remove every container (running or not) whose label `key` is `value`; returns how
    /// many there were. For cleaning up after a build that was interrupted.
    pub fn remove_containers_labelled(&self, key: &str, value: &str) -> Result<usize> {
        let filters = HashMap::from([("label".to_string(), vec![format!("{key}={value}")])]);
        let options = ListContainersOptions { all: true, filters: Some(filters), ..Default::default() };
        let found = self
            .runtime
            .block_on(self.docker.list_containers(Some(options)))
            .map_err(|source| request_error("list the containers labelled", value, source))?;
        let ids: Vec<String> = found.into_iter().filter_map(|c| c.id).collect();
        for id in &ids {
            remove(self, id);
        }
        Ok(ids.len())
    }
}

/// Remove a container whatever its state, with its anonymous volumes.
fn remove(engine: &Engine, id: &str) {
    let options = RemoveContainerOptions { force: true, v: true, ..Default::default() };
    let _ = engine.runtime.block_on(engine.docker.remove_container(id, Some(options)));
}

impl Container<'_> {
    /// The container's ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Unpack the tar that `write` writes into the folder `path` of the container, which
    /// must exist. Owners, modes and times are the tar's.
    pub fn upload<F>(&self, path: &str, write: F) -> Result<()>
    where
        F: FnOnce(&mut dyn Write) -> std::io::Result<()> + Send,
    {
        let engine = self.engine;
        let options = UploadToContainerOptions { path: path.to_string(), ..Default::default() };
        let (finished, answer) = engine.send_body(
            |writer| write(writer),
            |stream| engine.docker.upload_to_container(&self.id, Some(options), bollard::body_try_stream(stream)),
        );
        if let Finished::Failed(source) = finished {
            return Err(Error::Upload { path: path.to_string(), source });
        }
        answer.map_err(|source| request_error("copy files into", &self.id, source))
    }

    /// Start the command and wait for its end, each line it prints going to `on_line` as it
    /// comes; returns its exit code.
    pub fn run(&self, on_line: &mut dyn FnMut(&str)) -> Result<i64> {
        let docker = &self.engine.docker;
        self.engine.runtime.block_on(async {
            docker.start_container(&self.id, None).await.map_err(|source| request_error("start", &self.id, source))?;
            let options = LogsOptions { follow: true, stdout: true, stderr: true, ..Default::default() };
            let mut logs = docker.logs(&self.id, Some(options));
            let mut lines = Lines::default();
            while let Some(item) = logs.next().await {
                let output = item.map_err(|source| request_error("read the output of", &self.id, source))?;
                lines.push(output.as_ref(), on_line);
            }
            lines.finish(on_line);
            self.exit_code().await
        })
    }

    /// Start the command with what `write` writes as its standard input (closed when `write`
    /// returns), each line it prints going to `on_line`; returns its exit code. The
    /// container must have been made with [`Spec::stdin`].
    pub fn run_with_input<F>(&self, write: F, on_line: &mut dyn FnMut(&str)) -> Result<i64>
    where
        F: FnOnce(&mut dyn Write) -> std::io::Result<()> + Send,
    {
        let docker = &self.engine.docker;
        let options = AttachContainerOptions { stream: true, stdin: true, stdout: true, stderr: true, ..Default::default() };
        let (finished, ran) = self.engine.send_body(
            |writer| write(writer),
            |mut input_stream| async move {
                // Attached before the start, so no output and no read of the input is missed.
                let attached = docker
                    .attach_container(&self.id, Some(options))
                    .await
                    .map_err(|source| request_error("attach to", &self.id, source))?;
                docker.start_container(&self.id, None).await.map_err(|source| request_error("start", &self.id, source))?;
                let mut input = attached.input;
                let feed = async move {
                    while let Some(chunk) = input_stream.next().await {
                        let chunk = chunk?;
                        input.write_all(&chunk).await?;
                    }
                    input.shutdown().await
                };
                let mut lines = Lines::default();
                let mut output = attached.output;
                let read = async {
                    while let Some(item) = output.next().await {
                        let output = item.map_err(|source| request_error("read the output of", &self.id, source))?;
                        lines.push(output.as_ref(), on_line);
                    }
                    Ok::<_, Error>(())
                };
                let (fed, read) = futures_util::future::join(feed, read).await;
                read?;
                lines.finish(on_line);
                fed.map_err(|source| Error::Upload { path: "standard input".to_string(), source })?;
                self.exit_code().await
            },
        );
        if let Finished::Failed(source) = finished {
            return Err(Error::Upload { path: "standard input".to_string(), source });
        }
        ran
    }

    /// Start the command and write its standard output, as it comes, to `stdout`; each
    /// line of its standard error goes to `on_line`. Returns its exit code.
    pub fn run_capturing(&self, stdout: &mut dyn Write, on_line: &mut dyn FnMut(&str)) -> Result<i64> {
        let docker = &self.engine.docker;
        let options = AttachContainerOptions { stream: true, stdout: true, stderr: true, ..Default::default() };
        self.engine.runtime.block_on(async {
            let attached =
                docker.attach_container(&self.id, Some(options)).await.map_err(|source| request_error("attach to", &self.id, source))?;
            docker.start_container(&self.id, None).await.map_err(|source| request_error("start", &self.id, source))?;
            let mut output = attached.output;
            let mut lines = Lines::default();
            while let Some(item) = output.next().await {
                match item.map_err(|source| request_error("read the output of", &self.id, source))? {
                    LogOutput::StdOut { message } => {
                        stdout.write_all(&message).map_err(|source| Error::Upload { path: "standard output".to_string(), source })?
                    }
                    other => lines.push(other.as_ref(), on_line),
                }
            }
            lines.finish(on_line);
            self.exit_code().await
        })
    }

    /// The exit code of the command, once it has ended.
    async fn exit_code(&self) -> Result<i64> {
        let mut wait = self.engine.docker.wait_container(&self.id, None::<WaitContainerOptions>);
        match wait.next().await {
            Some(Ok(answer)) => Ok(answer.status_code),
            // bollard reports a non-zero exit as an error carrying the code.
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(source)) => Err(request_error("wait for", &self.id, source)),
            None => Err(Error::Missing(format!("the exit code of container {}", self.id))),
        }
    }

    /// Make an image of the container as it is now, named `reference`, with `changes` to
    /// its config in the Dockerfile's words (`CMD ["/usr/libexec/s2i/run"]`, `LABEL k=v`).
    pub fn commit(&self, reference: &Reference, changes: &[String]) -> Result<ImageInfo> {
        let image = reference.to_string();
        let options = CommitContainerOptions {
            container: Some(self.id.clone()),
            repo: Some(reference.name().to_string()),
            tag: Some(reference.tag().to_string()),
            changes: Some(changes.join("\n")),
            pause: false,
            ..Default::default()
        };
        let config = bollard::models::ContainerConfig::default();
        self.engine
            .runtime
            .block_on(self.engine.docker.commit_container(options, config))
            .map_err(|source| request_error("commit", &image, source))?;
        self.engine.inspect(&image)?.ok_or(Error::Missing(image))
    }

    /// Write the tar of the folder `path` in the container (named by its last component
    /// inside the tar) to the file `to`.
    pub fn download(&self, path: &str, to: &Path) -> Result<()> {
        let write_error = |source| Error::Local(Box::new(crate::image::Error::Write { path: to.to_path_buf(), source }));
        let mut file = std::io::BufWriter::new(std::fs::File::create(to).map_err(write_error)?);
        let options = DownloadFromContainerOptions { path: path.to_string() };
        let mut stream = self.engine.docker.download_from_container(&self.id, Some(options));
        self.engine.runtime.block_on(async {
            while let Some(chunk) = stream.try_next().await.map_err(|source| request_error("copy files out of", &self.id, source))? {
                file.write_all(&chunk).map_err(write_error)?;
            }
            Ok::<_, Error>(())
        })?;
        file.flush().map_err(write_error)
    }
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        remove(self.engine, &self.id);
    }
}

/// Output cut into lines: the engine sends it in pieces that may end mid-line.
#[derive(Default)]
struct Lines {
    partial: Vec<u8>,
}

impl Lines {
    fn push(&mut self, bytes: &[u8], on_line: &mut dyn FnMut(&str)) {
        self.partial.extend_from_slice(bytes);
        while let Some(end) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            on_line(String::from_utf8_lossy(&line).trim_end());
        }
    }

    fn finish(&mut self, on_line: &mut dyn FnMut(&str)) {
        if !self.partial.is_empty() {
            on_line(String::from_utf8_lossy(&self.partial).trim_end());
            self.partial.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_pieces_become_whole_lines() {
        let mut seen = Vec::new();
        let mut lines = Lines::default();
        let mut on_line = |line: &str| seen.push(line.to_string());
        lines.push(b"one\ntw", &mut on_line);
        lines.push(b"o\r\n", &mut on_line);
        lines.push(b"three", &mut on_line);
        lines.finish(&mut on_line);
        assert_eq!(seen, ["one", "two", "three"]);
    }
}
