//! `warp recorder list` and `warp recorder show`: the records `--enable-recorder DIR`
//! writes, read back.

use crate::util::Sandbox;

#[test]
fn warp_recorder_says_in_one_line_what_to_do_about_a_missing_folder_or_record() {
    let sandbox = Sandbox::new();
    let one_line = |out: String| {
        assert_eq!(out.trim_end().lines().count(), 1, "not one line:\n{out}");
        out.trim_end().to_owned()
    };
    let missing = sandbox.root().join("no-such-folder");
    let missing = missing.to_str().unwrap();
    for args in [["list", missing, ""], ["show", missing, "20261206-061514-1-1"]] {
        let args: Vec<&str> = ["recorder"].into_iter().chain(args.into_iter().filter(|a| !a.is_empty())).collect();
        let out = one_line(sandbox.fails(&args, 1));
        assert_eq!(out, format!("error: {missing} does not exist: name the folder given to warp start --enable-recorder"));
    }
    let dir = sandbox.root().to_str().unwrap();
    for id in ["20261206-061514-1-1", "../app/wsgi"] {
        let out = one_line(sandbox.fails(&["recorder", "show", dir, id], 1));
        assert_eq!(out, format!("error: no record {id} in {dir}: `warp recorder list {dir}` shows the ids"));
    }
}
