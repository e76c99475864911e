//! Which subcommand a command line names, found without parsing it: when clap refuses a command
//! line, the exit code still depends on the command (a monitoring check must say UNKNOWN).

use std::ffi::OsString;

use clap::{Arg, Command};

/// The subcommand path (`["health", "check"]`) that `args` (argv, program name first) names in
/// `cmd`'s tree. It walks the words the way clap does, skipping options and their values by the
/// options' own definitions (`--dir X`, `--dir=X`), and stops at the first word that is not a
/// subcommand, at `--`, or at a command without subcommands. `cmd` must be built
/// (`Command::build`), so that global options are known to every subcommand.
pub fn subcommand_path<'c>(cmd: &'c Command, args: &[OsString]) -> Vec<&'c str> {
    let mut path = Vec::new();
    let mut at = cmd;
    let mut words = args.iter().skip(1).map(|a| a.to_string_lossy());
    while at.has_subcommands() {
        let Some(word) = words.next() else { break };
        let skip_value = if word == "--" {
            break;
        } else if let Some(long) = word.strip_prefix("--") {
            match long.split_once('=') {
                Some(_) => false,
                None => at
                    .get_arguments()
                    .find(|a| {
                        a.get_long_and_visible_aliases()
                            .is_some_and(|l| l.contains(&long))
                    })
                    .is_some_and(takes_separate_value),
            }
        } else if let Some(shorts) = word.strip_prefix('-').filter(|s| !s.is_empty()) {
            // A cluster like -vx or -dDIR: the first short option that takes a value ends it,
            // and takes the next word as its value only when nothing follows it in the cluster.
            let mut chars = shorts.chars();
            let mut skip = false;
            while let Some(c) = chars.next() {
                let Some(arg) = at.get_arguments().find(|a| is_short(a, c)) else {
                    break;
                };
                if arg.get_num_args().is_some_and(|n| n.takes_values()) {
                    skip = chars.as_str().is_empty() && takes_separate_value(arg);
                    break;
                }
            }
            skip
        } else if let Some(sub) = at.find_subcommand(word.as_ref()) {
            path.push(sub.get_name());
            at = sub;
            false
        } else {
            // A positional value or a misspelt subcommand: nothing below it to find.
            break;
        };
        if skip_value {
            words.next();
        }
    }
    path
}

/// Whether the option takes its value as the next word (`--dir DIR`), rather than none or only
/// after `=`.
fn takes_separate_value(arg: &Arg) -> bool {
    arg.get_num_args().is_some_and(|n| n.min_values() > 0) && !arg.is_require_equals_set()
}

fn is_short(arg: &Arg, c: char) -> bool {
    arg.get_short_and_visible_aliases()
        .is_some_and(|s| s.contains(&c))
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;
    use crate::cli::Cli;
    use crate::exit::parse_error_code;

    fn argv(line: &str) -> Vec<OsString> {
        line.split_whitespace().map(OsString::from).collect()
    }

    fn built() -> Command {
        let mut cmd = Cli::command();
        cmd.build();
        cmd
    }

    fn path(line: &str) -> Vec<String> {
        let cmd = built();
        subcommand_path(&cmd, &argv(line))
            .into_iter()
            .map(String::from)
            .collect()
    }

    /// The exit code of a command line that clap refuses (or answers with help or version).
    fn exit_of(line: &str) -> u8 {
        let args = argv(line);
        let Err(e) = Cli::try_parse_from(&args) else {
            panic!("'{line}' parsed");
        };
        let cmd = built();
        parse_error_code(&e, &subcommand_path(&cmd, &args)).code()
    }

    #[test]
    fn words_after_the_subcommand_do_not_change_a_usage_error() {
        assert_eq!(exit_of("uca issue --bogus check"), 2);
        assert_eq!(exit_of("uca issue --bogus web"), 2);
        assert_eq!(exit_of("uca issue --bogus expiring"), 2);
        assert_eq!(exit_of("uca sign --bogus -- health check"), 2);
    }

    #[test]
    fn a_global_option_value_is_not_a_subcommand() {
        assert_eq!(exit_of("uca --dir check expiring --bogus"), 3);
        assert_eq!(exit_of("uca --dir=check expiring --bogus"), 3);
        assert_eq!(exit_of("uca --dir expiring issue --bogus"), 2);
        assert_eq!(exit_of("uca --json --dir health issue --bogus"), 2);
        assert_eq!(path("uca --dir check expiring --warn"), ["expiring"]);
    }

    #[test]
    fn monitoring_checks_say_unknown_for_their_own_bad_arguments() {
        assert_eq!(exit_of("uca expiring --bogus"), 3);
        assert_eq!(exit_of("uca expiring --warn"), 3);
        assert_eq!(exit_of("uca health check --bogus"), 3);
        assert_eq!(exit_of("uca health check"), 3);
        assert_eq!(exit_of("uca --dir x health --json check --count"), 3);
        assert_eq!(
            path("uca health --dir pki check --count 3"),
            ["health", "check"]
        );
    }

    #[test]
    fn other_commands_say_invalid_input() {
        assert_eq!(exit_of("uca health --bogus"), 2);
        assert_eq!(exit_of("uca health"), 2);
        assert_eq!(exit_of("uca health watch --bogus"), 2);
        assert_eq!(exit_of("uca artifact verify --bogus"), 2);
        assert_eq!(exit_of("uca check expiring"), 2);
        assert_eq!(exit_of("uca"), 2);
        assert_eq!(path("uca bogus expiring"), Vec::<String>::new());
    }

    #[test]
    fn help_and_version_exit_zero() {
        assert_eq!(exit_of("uca --help"), 0);
        assert_eq!(exit_of("uca expiring --help"), 0);
        assert_eq!(exit_of("uca health check -h"), 0);
        assert_eq!(exit_of("uca --version"), 0);
        assert_eq!(exit_of("uca help expiring"), 0);
    }
}
