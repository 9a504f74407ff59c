//! `--user`, `--group` and `--allow-root`: the master binds as root, the workers run the
//! app as someone else.
//!
//! Started as root without `--user`, warp refuses (as mod_wsgi-express does): an app
//! running as root turns any bug in it into a compromise of the machine. `--allow-root`
//! is for containers that insist.
//!
//! Names are resolved to numbers here, in the master, before any worker is forked: the
//! child side of [`apply`] only makes system calls on those numbers. This module changes no
//! file's owner: the workers' user must be able to read the app and its venv already.

use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};
use nix::unistd::{Gid, Group, Uid, User};

/// Who the workers become.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The user's name, for the banner and the workers' USER and LOGNAME.
    pub name: String,
    pub uid: Uid,
    /// The primary group: `--group`, else the user's own.
    pub gid: Gid,
    /// Every group the workers belong to, as `initgroups` gives them: the user's
    /// supplementary groups and `gid`.
    pub groups: Vec<Gid>,
    /// The user's home folder, for the workers' HOME.
    pub home: PathBuf,
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
    if !root {
        // Already that user (and group, when one is named): nothing to switch.
        if account.uid == Uid::effective() && (group.is_none() || gid == Gid::effective()) {
            return Ok(None);
        }
        bail!(
            "--user {user}{} needs root: warp runs as uid {} gid {} and cannot switch; start it as root, or drop --user and --group",
            group.map(|g| format!(" --group {g}")).unwrap_or_default(),
            Uid::effective(),
            Gid::effective()
        );
    }
    if account.uid.is_root() && !allow_root {
        bail!("--user {user} is root: pick an unprivileged user, or add --allow-root if this container must run as root");
    }
    let groups = supplementary_groups(&account, gid)?;
    Ok(Some(Credentials { name: account.name, uid: account.uid, gid, groups, home: account.dir }))
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

/// The groups `initgroups(user, gid)` would give: those listing the user as a member, and
/// `gid` itself (first).
fn supplementary_groups(account: &User, gid: Gid) -> Result<Vec<Gid>> {
    let name = CString::new(account.name.as_bytes()).with_context(|| format!("user name {:?} holds a NUL byte", account.name))?;
    let mut groups = nix::unistd::getgrouplist(&name, gid).with_context(|| format!("cannot list the groups of user {}", account.name))?;
    groups.retain(|g| *g != gid);
    groups.insert(0, gid);
    Ok(groups)
}

/// Make `cmd` run as `creds`: the groups, then the group, then the user are set, in that
/// order (after setuid there is no right left to change groups). HOME, USER and LOGNAME
/// become the user's.
pub fn apply(cmd: &mut Command, creds: &Credentials) {
    let (uid, gid) = (creds.uid.as_raw(), creds.gid.as_raw());
    let groups: Vec<libc::gid_t> = creds.groups.iter().map(|g| g.as_raw()).collect();
    cmd.env("HOME", &creds.home).env("USER", &creds.name).env("LOGNAME", &creds.name);
    // SAFETY: the closure runs in the child between fork and exec, where only
    // async-signal-safe calls are allowed. It makes three system calls (setgroups, setgid,
    // setuid) on integers and on a vector that were all computed before the fork and are
    // only read here: it allocates nothing, frees nothing and takes no lock. `groups` lives
    // in the closure, so its pointer is valid for the call, and its length is the count
    // setgroups reads.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setgroups(groups.len(), groups.as_ptr()) != 0 || libc::setgid(gid) != 0 || libc::setuid(uid) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_needs_a_user_or_allow_root() {
        let refused = resolve(None, None, false);
        if Uid::effective().is_root() {
            let message = refused.unwrap_err().to_string();
            assert!(message.contains("--user") && message.contains("--group") && message.contains("--allow-root"), "{message}");
            assert!(!message.contains('\n'), "{message}");
        } else {
            assert!(refused.unwrap().is_none());
        }
        assert!(resolve(None, None, true).unwrap().is_none());
    }

    #[test]
    fn a_group_alone_is_refused() {
        let message = resolve(None, Some("0"), true).unwrap_err().to_string();
        assert!(message.contains("--group needs --user"), "{message}");
    }

    #[test]
    fn unknown_names_are_one_line_errors() {
        let message = resolve(Some("no-such-user-here"), None, true).unwrap_err().to_string();
        assert_eq!(message, "--user no-such-user-here: no such user on this machine");
        let me = User::from_uid(Uid::effective()).unwrap().unwrap().name;
        let message = resolve(Some(&me), Some("no-such-group-here"), true).unwrap_err().to_string();
        assert_eq!(message, "--group no-such-group-here: no such group on this machine");
    }

    #[test]
    fn the_current_user_needs_no_switch() {
        if Uid::effective().is_root() {
            return;
        }
        let me = User::from_uid(Uid::effective()).unwrap().unwrap();
        assert!(resolve(Some(&me.name), None, false).unwrap().is_none());
        assert!(resolve(Some(&me.uid.to_string()), None, false).unwrap().is_none());
    }

    #[test]
    fn root_resolves_names_and_numbers_alike() {
        if !Uid::effective().is_root() {
            return;
        }
        let Ok(Some(nobody)) = User::from_name("nobody") else { return };
        let by_name = resolve(Some("nobody"), None, false).unwrap().unwrap();
        let by_number = resolve(Some(&nobody.uid.to_string()), Some(&nobody.gid.to_string()), false).unwrap().unwrap();
        for creds in [&by_name, &by_number] {
            assert_eq!((creds.uid, creds.gid, creds.name.as_str()), (nobody.uid, nobody.gid, "nobody"));
            assert_eq!(creds.groups.first(), Some(&nobody.gid));
            assert_eq!(creds.home, nobody.dir);
        }
        let message = resolve(Some("root"), None, false).unwrap_err().to_string();
        assert!(message.contains("--allow-root"), "{message}");
    }
}
