//! Rate limits per client address and per account, GCRA via `governor`: each
//! limit is a burst of N that refills one at a time over the period, so a
//! client that keeps trying is slowed to the refill rate (back-off) and told
//! when to come back (`429` + `Retry-After`).
//!
//! The counters live in this process: with several instances behind a load
//! balancer each enforces its own (docs/OPERATIONS.md).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::Limits;
use crate::error::ApiError;

/// One keyed limit.
pub struct Limit(DefaultKeyedRateLimiter<String>);

impl std::fmt::Debug for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Limit")
    }
}

impl Limit {
    fn new(burst: u32, period: Duration) -> Self {
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        let refill = period / burst.get();
        let quota = Quota::with_period(refill)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        Self(RateLimiter::keyed(quota))
    }

    /// Counts one attempt for `key`, or refuses with the time to wait.
    pub fn check(&self, key: &str) -> Result<(), ApiError> {
        self.0.check_key(&key.to_owned()).map_err(|not_until| {
            let retry_after = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::RateLimited { retry_after }
        })
    }

    fn forget_idle(&self) {
        self.0.retain_recent();
        self.0.shrink_to_fit();
    }
}

/// Every limit of the API.
#[derive(Debug)]
pub struct RateLimits {
    /// Login starts per client address.
    pub login_by_address: Limit,
    /// Login starts per e-mail.
    pub login_by_account: Limit,
    /// Reset requests per client address.
    pub reset_by_address: Limit,
    /// Reset requests per e-mail.
    pub reset_by_account: Limit,
    /// Invitations per inviting account.
    pub invitations_by_account: Limit,
    /// Link-token uses per client address.
    pub tokens_by_address: Limit,
    /// SMS codes sent per account.
    pub sms_by_account: Limit,
}

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

impl RateLimits {
    /// The limits of a configuration.
    pub fn new(l: &Limits) -> Self {
        Self {
            login_by_address: Limit::new(l.login_per_address_per_minute, MINUTE),
            login_by_account: Limit::new(l.login_per_account_per_minute, MINUTE),
            reset_by_address: Limit::new(l.reset_per_address_per_hour, HOUR),
            reset_by_account: Limit::new(l.reset_per_account_per_hour, HOUR),
            invitations_by_account: Limit::new(l.invitations_per_account_per_hour, HOUR),
            sms_by_account: Limit::new(l.sms_per_account_per_hour, HOUR),
            tokens_by_address: Limit::new(l.tokens_per_address_per_minute, MINUTE),
        }
    }

    /// Drops the state of keys that are back at a full burst, so memory
    /// follows the active clients, not every address ever seen.
    pub fn forget_idle(&self) {
        for l in [
            &self.login_by_address,
            &self.login_by_account,
            &self.reset_by_address,
            &self.reset_by_account,
            &self.invitations_by_account,
            &self.tokens_by_address,
            &self.sms_by_account,
        ] {
            l.forget_idle();
        }
    }
}

/// The key of an address: IPv6 clients are limited per /64, since one
/// subscriber usually holds a whole /64.
pub(crate) fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_refusal_with_a_wait() {
        let l = Limit::new(3, HOUR);
        for _ in 0..3 {
            l.check("a").unwrap();
        }
        match l.check("a") {
            Err(ApiError::RateLimited { retry_after }) => {
                assert!(retry_after > Duration::from_secs(1000), "{retry_after:?}");
                assert!(retry_after <= Duration::from_secs(1200), "{retry_after:?}");
            }
            other => panic!("{other:?}"),
        }
        l.check("b").unwrap();
    }

    #[test]
    fn ipv6_is_limited_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.7");
    }
}
