//! `--user`, `--group` and `--allow-root`: the master binds as root, the workers run the
//! app as someone else.
//!
//! Started as root without `--user`, warp refuses (as mod_wsgi-express does): an app
//! running as root turns any bug in it into a compromise of the machine. `--allow-root`
//! is for containers that insist.

use std::os::unix::process::CommandExt;
use std::process::Command;

use anyhow::{bail, Context, Result};
use nix::unistd::{Gid, Group, Uid, User};

/// Who the workers become.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub name: String,
    pub uid: Uid,
    pub gid: Gid,
    pub home: std::path::PathBuf,
}

/// Decide the workers' identity. `None`: they run as warp itself does.
pub fn resolve(user: Option<&str>, group: Option<&str>, allow_root: bool) -> Result<Option<Credentials>> {
    let root = Uid::effective().is_root();
    let Some(user) = user else {
        if group.is_some() {
            bail!("--group needs --user: name the user the workers run as too");
        }
        if root && !allow_root {
            bail!("warp start refuses to run the app as root: pass --user NAME (and --group NAME) to run the workers as that user after binding, or --allow-root if this container must run as root");
        }
        return Ok(None);
    };
    let account = lookup_user(user)?;
    let gid = match group {
        Some(group) => lookup_group(group)?,
        None => account.gid,
    };
    if account.uid.is_root() && !allow_root {
        bail!("--user {user} is root: pick an unprivileged user, or add --allow-root if this container must run as root");
    }
    if !root {
        if account.uid == Uid::effective() && gid == Gid::effective() {
            return Ok(None);
        }
        bail!("--user {user} needs root: warp runs as uid {} and cannot switch users; start it as root, or drop --user", Uid::effective());
    }
    Ok(Some(Credentials { name: account.name, uid: account.uid, gid, home: account.dir }))
}

fn lookup_user(user: &str) -> Result<User> {
    let found = match user.parse::<u32>() {
        Ok(uid) => User::from_uid(Uid::from_raw(uid)),
        Err(_) => User::from_name(user),
    };
    found.with_context(|| format!("cannot look up user {user}"))?.with_context(|| format!("--user {user}: no such user on this machine"))
}

fn lookup_group(group: &str) -> Result<Gid> {
    if let Ok(gid) = group.parse::<u32>() {
        return Ok(Gid::from_raw(gid));
    }
    let found = Group::from_name(group).with_context(|| format!("cannot look up group {group}"))?;
    Ok(found.with_context(|| format!("--group {group}: no such group on this machine"))?.gid)
}

/// Make `cmd` run as `creds`: its only group is `creds.gid`, then the group and the user
/// are set, in that order (after setuid there is no right left to change groups).
pub fn apply(cmd: &mut Command, creds: &Credentials) {
    let (uid, gid) = (creds.uid.as_raw(), creds.gid.as_raw());
    cmd.env("HOME", &creds.home).env("USER", &creds.name).env("LOGNAME", &creds.name);
    // SAFETY: the closure runs in the child between fork and exec, where only
    // async-signal-safe calls are allowed: it makes three system calls on integers
    // captured by value, allocating nothing and taking no lock.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setgroups(1, &gid) != 0 || libc::setgid(gid) != 0 || libc::setuid(uid) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
