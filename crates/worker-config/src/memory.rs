//! A process's resident memory as /proc gives it: the worker reads its own (for
//! `--memory-limit` and its metrics), the master its workers' (for `/metrics`).

/// The resident set size of process `pid`, or of the calling process for `None`; `None`
/// once the process is gone.
pub fn resident_bytes(pid: Option<i32>) -> Option<u64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/statm"),
        None => "/proc/self/statm".to_owned(),
    };
    let statm = std::fs::read_to_string(path).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    let page_size = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE).ok().flatten()?;
    Some(pages * u64::try_from(page_size).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_has_resident_memory_until_it_is_gone() {
        let own = resident_bytes(None).unwrap();
        assert!(own > 0);
        assert!(resident_bytes(Some(std::process::id() as i32)).is_some_and(|bytes| bytes > 0));
        assert_eq!(resident_bytes(Some(i32::MAX)), None);
    }
}
