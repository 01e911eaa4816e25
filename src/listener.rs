//! Which listener a request came in on: the one fact about a connection
//! that the router and the admin endpoints read.

/// The listener a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// Visitors (through nginx or a load balancer).
    Main,
    /// Operators and the app's hooks; token optional.
    Admin,
}

impl Listener {
    pub fn name(self) -> &'static str {
        match self {
            Listener::Main => "main",
            Listener::Admin => "admin",
        }
    }
}
