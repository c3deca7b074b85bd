//! Prometheus metrics (`GET /metrics`): request counts by route template
//! and status, login outcomes and outbox deliveries. Labels are route
//! templates (`/api/sessions/{id}`), never concrete paths, addresses or
//! account ids, so no user data leaves through them.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    http: Family<HttpLabels, Counter>,
    logins: Family<OutcomeLabels, Counter>,
    mail: Family<OutcomeLabels, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("kluis");
        let http = Family::<HttpLabels, Counter>::default();
        let logins = Family::<OutcomeLabels, Counter>::default();
        let mail = Family::<OutcomeLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests answered", http.clone());
        registry.register(
            "logins",
            "Completed OPAQUE logins by outcome",
            logins.clone(),
        );
        registry.register("mail", "Outbox delivery attempts by outcome", mail.clone());
        Self {
            registry,
            http,
            logins,
            mail,
        }
    }
}

impl Metrics {
    /// Counts one answered request.
    pub fn request(&self, method: &str, route: &str, status: u16) {
        self.http
            .get_or_create(&HttpLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
    }

    /// Counts one finished login (`success` or `failure`).
    pub fn login(&self, outcome: &'static str) {
        self.logins.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// Counts delivery attempts (`sent` or `failed`).
    pub fn mail_many(&self, outcome: &'static str, n: usize) {
        self.mail
            .get_or_create(&OutcomeLabels { outcome })
            .inc_by(u64::try_from(n).unwrap_or(u64::MAX));
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
