//! How a command fails: the SDK's error, said once on standard error, and
//! the exit code scripts branch on (the table in `kluis --help`).

use crate::Error;

/// A failed command: what to say and which exit code.
#[derive(Debug)]
pub(crate) struct Failure(Error);

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Self(Error::Io(e))
    }
}

impl Failure {
    pub(crate) fn message(&self) -> String {
        self.0.to_string()
    }

    pub(crate) fn exit_code(&self) -> u8 {
        match &self.0 {
            Error::WrongCredentials | Error::SecondFactorFailed => 3,
            Error::SessionExpired | Error::InvalidLink => 4,
            Error::Unreachable { .. } => 5,
            Error::KeyChanged { .. } => 6,
            Error::Tampered(_) | Error::LocalStore(_) => 7,
            Error::Refused { .. } | Error::RateLimited { .. } => 8,
            Error::LocalStoreMissing | Error::LocalStoreUnreadable => 9,
            _ => 1,
        }
    }
}

/// What every command returns.
pub(crate) type Outcome = Result<(), Failure>;

/// Input the command cannot work with: exit code 1, like any bad input.
pub(crate) fn usage(message: impl Into<String>) -> Failure {
    Failure(Error::InvalidInput(message.into()))
}

/// The server's `404` to an action on something that is not there (no
/// proposal waiting, no deletion scheduled), said as `what`; the exit code
/// stays 8, the server's refusal. Every other error as it came.
pub(crate) fn none_waiting(what: &'static str) -> impl FnOnce(Error) -> Failure {
    move |e| match e {
        Error::Refused {
            status: 404, code, ..
        } => Failure(Error::Refused {
            status: 404,
            code,
            message: what.to_owned(),
        }),
        other => Failure(other),
    }
}
