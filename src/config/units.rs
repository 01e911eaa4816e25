//! Value newtypes that validate inside their deserializers. (Stub.)

/// A route matcher: an exact path, or a prefix ending in "*".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteMatch {
    Exact(String),
    Prefix(String),
}

impl RouteMatch {
    pub fn matches(&self, path: &str) -> bool {
        match self {
            RouteMatch::Exact(p) => p == path,
            RouteMatch::Prefix(p) => path.starts_with(p.as_str()),
        }
    }
}

/// A query-parameter name glob (`*` and `?`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob(pub String);

impl Glob {
    pub fn matches(&self, name: &str) -> bool {
        self.0 == name
    }
}

/// `[invalidate] timezone`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timezone {
    Utc,
    Local,
    /// Seconds east of UTC.
    Fixed(i32),
}

/// A parsed 6/7-field cron expression, with the text it came from.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    pub text: String,
    pub schedule: cron::Schedule,
}
