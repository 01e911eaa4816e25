//! One test per cross-key check of `validate.rs`: the problem is reported
//! with its position and key, and a good value passes.

use std::path::Path;

use crate::config::{from_str, Config};

const UPSTREAM: &str = "[upstream]\nurl = \"http://127.0.0.1:8000\"\n";

fn load(extra: &str, env_token: Option<&str>) -> Result<Config, String> {
    let text = format!("{UPSTREAM}{extra}");
    from_str(Path::new("p.toml"), &text, env_token.map(str::to_owned)).map_err(|e| e.to_string())
}

/// The one problem `extra` causes; fails if the config loads or has more.
fn problem(extra: &str) -> String {
    match load(extra, None) {
        Ok(_) => panic!("should be refused:\n{extra}"),
        Err(e) => {
            assert_eq!(e.lines().count(), 1, "one problem expected:\n{e}");
            e
        }
    }
}

fn assert_problem(extra: &str, starts: &str) {
    let e = problem(extra);
    assert!(e.starts_with(starts), "expected `{starts}...`, got:\n{e}");
}

#[test]
fn admin_listen_off_loopback_needs_a_token() {
    let extra = "[server]\nadmin_listen = \"0.0.0.0:8081\"\n";
    assert_problem(extra, "p.toml:4:16: key `server.admin_listen`: the admin listener on 0.0.0.0:8081 is reachable from other hosts and there is no token");
    assert!(load(&format!("{extra}[invalidate]\ntoken = \"t\"\n"), None).is_ok());
    assert!(load(extra, Some("t")).is_ok());
    assert!(load("[server]\nadmin_listen = \"[::1]:8081\"\n", None).is_ok());
    let off = load("[server]\nadmin_listen = \"\"\n", None).expect("disabled admin loads");
    assert_eq!(off.server.admin_listen, None);
}

#[test]
fn admin_listen_needs_its_own_address() {
    assert_problem(
        "[server]\nlisten = \"127.0.0.1:9000\"\nadmin_listen = \"127.0.0.1:9000\"\n",
        "p.toml:5:16: key `server.admin_listen`: 127.0.0.1:9000 is also in `server.listen`",
    );
}

#[test]
fn listen_addresses_are_not_repeated() {
    assert_problem(
        "[server]\nlisten = [\"127.0.0.1:80\", \"127.0.0.1:80\"]\n",
        "p.toml:4:10: key `server.listen`: 127.0.0.1:80 is listed twice",
    );
}

#[test]
fn counts_are_at_least_one() {
    assert_problem(
        "[server]\nmax_connections = 0\n",
        "p.toml:4:19: key `server.max_connections`: must be at least 1 (got 0)",
    );
    let text = "[upstream]\nurl = \"http://127.0.0.1:8000\"\nmax_fetches = -3\n";
    let e = from_str(Path::new("p.toml"), text, None)
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        e.as_deref(),
        Some("p.toml:3:15: key `upstream.max_fetches`: must be at least 1 (got -3)")
    );
    assert_problem(
        "[invalidate]\nrewarm_concurrency = 0\n",
        "p.toml:4:22: key `invalidate.rewarm_concurrency`: must be at least 1",
    );
    assert_problem(
        "[preload]\nmax_tags = 0\n",
        "p.toml:4:12: key `preload.max_tags`: must be at least 1",
    );
    assert_problem(
        "[cluster]\nredis = \"redis://r\"\nmax_len = 0\n",
        "p.toml:5:11: key `cluster.max_len`: must be at least 1",
    );
}

#[test]
fn timeouts_and_ttls_are_more_than_zero() {
    assert_problem(
        "[server]\nheader_timeout = \"0s\"\n",
        "p.toml:4:18: key `server.header_timeout`: must be more than 0",
    );
    let text = "[upstream]\nurl = \"http://127.0.0.1:8000\"\nconnect_timeout = \"0ms\"\n";
    let e = from_str(Path::new("p.toml"), text, None)
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        e.as_deref(),
        Some("p.toml:3:19: key `upstream.connect_timeout`: must be more than 0")
    );
    assert_problem(
        "[[route]]\nmatch = \"/a\"\nttl = \"0s\"\n",
        "p.toml:5:7: key `route.ttl`: must be more than 0",
    );
    assert!(load(
        "[server]\nshutdown_timeout = \"0s\"\n[cache]\ngrace = \"0s\"\n",
        None
    )
    .is_ok());
}

#[test]
fn upstream_must_not_be_preloadd_itself() {
    let text = "[server]\nlisten = \"0.0.0.0:8000\"\n[upstream]\nurl = \"http://127.0.0.1:8000\"\n";
    let e = from_str(Path::new("p.toml"), text, None)
        .err()
        .map(|e| e.to_string());
    assert_eq!(e.as_deref(), Some("p.toml:4:7: key `upstream.url`: 127.0.0.1:8000 is one of preloadd's own `server.listen` addresses; point it at the app"));
}

#[test]
fn upstream_host_defaults_to_the_url_authority_or_is_set() {
    let c = load("", None).expect("loads");
    assert_eq!(c.upstream.host, "127.0.0.1:8000");
    let text = "[upstream]\nurl = \"http://127.0.0.1:8000/\"\nhost = \"www.example.org\"\n";
    let c = from_str(Path::new("p.toml"), text, None).expect("loads");
    assert_eq!(c.upstream.host, "www.example.org");
    let e = from_str(
        Path::new("p.toml"),
        "[upstream]\nurl = \"https://app\"\n",
        None,
    )
    .err()
    .map(|e| e.to_string());
    assert!(e.as_deref().is_some_and(|e| e.starts_with("p.toml:2:7: key `upstream.url`: \"https://app\": https upstreams are not supported yet")), "{e:?}");
}

#[test]
fn cache_sizes_must_let_something_be_kept() {
    assert_problem(
        "[cache]\nmax_size = 0\n",
        "p.toml:4:12: key `cache.max_size`: must be more than 0",
    );
    assert_problem(
        "[cache]\nmax_object_size = \"0\"\n",
        "p.toml:4:19: key `cache.max_object_size`: must be more than 0",
    );
    // The default max_object_size is lowered to fit a small max_size.
    let small = load("[cache]\nmax_size = \"1MiB\"\n", None).unwrap();
    assert_eq!(small.cache.max_object_size, 1024 * 1024);
    assert_problem(
        "[cache]\nmax_size = \"1MiB\"\nmax_object_size = \"2MiB\"\n",
        "p.toml:5:19: key `cache.max_object_size`: 2MiB is larger than `cache.max_size` (1MiB)",
    );
    assert_problem(
        "[cache]\ndir = \"\"\n",
        "p.toml:4:7: key `cache.dir`: must not be empty",
    );
}

#[test]
fn statuses_are_http_statuses() {
    assert_problem(
        "[cache]\nstatuses = [200, 99]\n",
        "p.toml:4:18: key `cache.statuses`: 99 is not an HTTP status (100 to 599)",
    );
    assert_problem(
        "[cache]\nstatuses = [600]\n",
        "p.toml:4:13: key `cache.statuses`: 600 is not an HTTP status",
    );
    assert_problem(
        "[cache]\nstatuses = []\n",
        "p.toml:4:12: key `cache.statuses`: must list at least one status",
    );
    let c = load("[cache]\nstatuses = [200, 203, 404, 599, 100]\n", None).expect("loads");
    assert_eq!(c.cache.statuses, vec![200, 203, 404, 599, 100]);
}

#[test]
fn prefix_is_a_path_other_than_the_root() {
    assert_problem(
        "[preload]\nprefix = \"_preload\"\n",
        "p.toml:4:10: key `preload.prefix`: \"_preload\" must start with \"/\"",
    );
    assert_problem(
        "[preload]\nprefix = \"/\"\n",
        "p.toml:4:10: key `preload.prefix`: must not be \"/\"",
    );
    assert_problem(
        "[preload]\nprefix = \"/p?x\"\n",
        "p.toml:4:10: key `preload.prefix`: \"/p?x\" must be a path only",
    );
    assert_problem(
        "[preload]\nprefix = \"/_preloadd\"\n",
        "p.toml:4:10: key `preload.prefix`: \"/_preloadd\" collides with the admin endpoints",
    );
    let c = load("[preload]\nprefix = \"/cache/\"\n", None).expect("loads");
    assert_eq!(c.preload.prefix, "/cache");
}

#[test]
fn invalidate_path_is_a_path_outside_the_prefix() {
    assert_problem(
        "[invalidate]\npath = \"invalidate\"\n",
        "p.toml:4:8: key `invalidate.path`: \"invalidate\" must start with \"/\"",
    );
    assert_problem(
        "[invalidate]\npath = \"/_preload/inv\"\n",
        "p.toml:4:8: key `invalidate.path`: \"/_preload/inv\" is under `preload.prefix`",
    );
}

#[test]
fn tokens_fit_in_a_header() {
    assert_problem(
        "[invalidate]\ntoken = \"\"\n",
        "p.toml:4:9: key `invalidate.token`: is empty",
    );
    assert_problem(
        "[invalidate]\ntoken = \"a b\"\n",
        "p.toml:4:9: key `invalidate.token`: must be printable ASCII",
    );
    let e = load("", Some("a\tb")).err();
    assert_eq!(e.as_deref(), Some("p.toml: key `invalidate.token`: $PRELOADD_TOKEN must be printable ASCII without spaces (it is sent in an Authorization header)"));
}

#[test]
fn routes_cannot_vary_on_personal_or_hop_by_hop_headers() {
    assert_problem(
        "[[route]]\nmatch = \"/a\"\nvary = [\"Accept-Language\", \"Cookie\"]\n",
        "p.toml:5:28: key `route.vary`: `cookie`: snapshot fetches are anonymous",
    );
    assert_problem(
        "[[route]]\nmatch = \"/a\"\nvary = [\"Host\"]\n",
        "p.toml:5:9: key `route.vary`: `host`",
    );
    assert_problem(
        "[[route]]\nmatch = \"/a\"\nvary = [\"Connection\"]\n",
        "p.toml:5:9: key `route.vary`: `connection`: a hop-by-hop",
    );
    let c = load(
        "[[route]]\nmatch = \"/a\"\nvary = [\"Accept-Language\", \"X-Country\"]\n",
        None,
    )
    .expect("loads");
    assert_eq!(
        c.routes[0]
            .vary
            .iter()
            .map(|h| h.as_str())
            .collect::<Vec<_>>(),
        ["accept-language", "x-country"]
    );
}

#[test]
fn a_route_shadowed_by_an_identical_one_is_an_error() {
    assert_problem(
        "[[route]]\nmatch = \"/a/*\"\n[[route]]\nmatch = \"/b\"\n[[route]]\nmatch = \"/a/*\"\n",
        "p.toml:8:9: key `route.match`: same match as the route on line 4",
    );
}

#[test]
fn tags_and_models_are_not_empty() {
    assert_problem(
        "[[route]]\nmatch = \"/a\"\ntags = [\"\"]\n",
        "p.toml:5:9: key `route.tags`: must not be empty",
    );
    assert_problem(
        "[invalidate]\nmodels = [\"app.M\", \" \"]\n",
        "p.toml:4:20: key `invalidate.models`: must not be empty",
    );
}

#[test]
fn a_schedule_names_what_it_drops() {
    assert_problem(
        "[[schedule]]\ncron = \"0 0 4 * * *\"\n",
        "p.toml:4:8: key `schedule`: names nothing to drop",
    );
    assert_problem(
        "[[schedule]]\ncron = \"0 0 4 * * *\"\nall = false\n",
        "p.toml:4:8: key `schedule`: names nothing to drop",
    );
    assert_problem(
        "[[schedule]]\ncron = \"0 0 4 * * *\"\nprefixes = [\"news\"]\n",
        "p.toml:5:13: key `schedule.prefixes`: \"news\" must start with \"/\"",
    );
    assert_problem(
        "[[schedule]]\ncron = \"0 0 4 * * *\"\nurls = [\"news\"]\n",
        "p.toml:5:9: key `schedule.urls`: \"news\" must be a target",
    );
    assert_problem(
        "[[schedule]]\ncron = \"0 0 4 * * *\"\ntags = [\"\"]\n",
        "p.toml:5:9: key `schedule.tags`: must not be empty",
    );
    for ok in [
        "all = true",
        "tags = [\"t\"]",
        "prefixes = [\"/a/\"]",
        "urls = [\"/a?b=1\"]",
    ] {
        assert!(
            load(
                &format!("[[schedule]]\ncron = \"0 0 4 * * *\"\n{ok}\n"),
                None
            )
            .is_ok(),
            "{ok}"
        );
    }
}

#[test]
fn a_five_field_cron_is_refused_with_its_position() {
    assert_problem(
        "[[schedule]]\ncron = \"30 4 * * *\"\nall = true\n",
        "p.toml:4:8: key `schedule.cron`: cron expression \"30 4 * * *\" has 5 fields",
    );
}

#[test]
fn cluster_settings_are_checked() {
    assert_problem(
        "[cluster]\nredis = \"127.0.0.1:6379\"\n",
        "p.toml:4:9: key `cluster.redis`: \"127.0.0.1:6379\" is not a Redis URL",
    );
    assert_problem(
        "[cluster]\nredis = \"rediss://r\"\n",
        "p.toml:4:9: key `cluster.redis`: TLS to Redis is not supported yet",
    );
    assert_problem(
        "[cluster]\nredis = \"redis://r\"\nstream = \"\"\n",
        "p.toml:5:10: key `cluster.stream`: must not be empty",
    );
    assert_problem(
        "[cluster]\nredis = \"redis://r\"\nnode = \"web 1\"\n",
        "p.toml:5:8: key `cluster.node`: must be a non-empty name",
    );
}

#[test]
fn a_route_has_at_most_max_tags_tags() {
    let route = "[[route]]\nmatch = \"/e/*\"\ntags = [\"a\", \"b\", \"c\"]\n";
    assert_problem(
        &format!("[preload]\nmax_tags = 2\n\n{route}"),
        "p.toml:8:19: key `route.tags`: more than `preload.max_tags` (2)",
    );
    assert!(load(&format!("[preload]\nmax_tags = 3\n\n{route}"), None).is_ok());
}
