//! Tests of the whole loader: defaults, the example file, the rendered
//! configuration, and where the token comes from.

use super::*;

const UPSTREAM: &str = "[upstream]\nurl = \"http://127.0.0.1:8000\"\n";
const EXAMPLE: &str = include_str!("../../preload.example.toml");

fn config(text: &str) -> Config {
    match from_str(Path::new("preload.toml"), text, None) {
        Ok(c) => c,
        Err(e) => panic!("config should load:\n{e}"),
    }
}

fn problems(text: &str, env_token: Option<&str>) -> String {
    match from_str(
        Path::new("preload.toml"),
        text,
        env_token.map(str::to_owned),
    ) {
        Ok(_) => panic!("config should be refused:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn every_default_is_the_specs() {
    let c = config(UPSTREAM);
    let addr = |s: &str| s.parse::<SocketAddr>().expect("address");
    assert_eq!(c.source, PathBuf::from("preload.toml"));

    assert_eq!(c.server.listen, vec![addr("127.0.0.1:8080")]);
    assert_eq!(c.server.admin_listen, Some(addr("127.0.0.1:8081")));
    assert_eq!(c.server.max_connections, 10_000);
    assert_eq!(c.server.header_timeout, Duration::from_secs(10));
    assert_eq!(c.server.shutdown_timeout, Duration::from_secs(30));
    assert!(!c.server.access_log);

    assert_eq!(c.upstream.url.scheme_str(), Some("http"));
    assert_eq!(
        c.upstream.url.authority().map(|a| a.as_str()),
        Some("127.0.0.1:8000")
    );
    assert_eq!(c.upstream.host, "127.0.0.1:8000");
    assert_eq!(c.upstream.connect_timeout, Duration::from_secs(2));
    assert_eq!(c.upstream.fetch_timeout, Duration::from_secs(30));
    assert_eq!(c.upstream.max_fetches, 32);

    assert_eq!(c.cache.dir, PathBuf::from("./preload-cache"));
    assert_eq!(c.cache.max_size, 1 << 30);
    assert_eq!(c.cache.max_object_size, 16 << 20);
    assert_eq!(c.cache.statuses, vec![200]);
    assert!(!c.cache.strip_set_cookie);
    assert_eq!(c.cache.on_write_error, OnWriteError::Serve);
    assert_eq!(c.cache.grace, Duration::from_secs(3600));
    assert_eq!(c.cache.memory, 256 << 20);
    assert!(c.cache.compress);

    assert_eq!(c.preload.prefix, "/_preload");
    assert!(c.preload.sort_query);
    assert!(c.preload.ignore_query.is_empty());
    assert_eq!(c.preload.tags_header.as_str(), "x-preload-tags");
    assert_eq!(c.preload.max_tags, 1000);

    assert!(c.routes.is_empty());

    assert_eq!(c.invalidate.path, "/_invalidate");
    assert_eq!(c.invalidate.token, None);
    assert!(c.invalidate.models.is_empty());
    assert!(!c.invalidate.daily);
    assert_eq!(c.invalidate.timezone, Timezone::Utc);
    assert!(!c.invalidate.rewarm);
    assert_eq!(c.invalidate.rewarm_concurrency, 4);

    assert!(c.schedules.is_empty());
    assert!(c.cluster.is_none());
}

#[test]
fn route_and_schedule_defaults() {
    let c = config(&format!(
        "{UPSTREAM}[[route]]\nmatch = \"/a\"\n[[schedule]]\ncron = \"0 0 4 * * *\"\nall = true\n"
    ));
    let r = &c.routes[0];
    assert_eq!(r.matcher, RouteMatch::Exact("/a".into()));
    assert!(r.snapshot);
    assert!(r.tags.is_empty() && r.vary.is_empty() && r.ttl.is_none());
    let s = &c.schedules[0];
    assert!(s.all && !s.soft && s.tags.is_empty() && s.prefixes.is_empty() && s.urls.is_empty());
}

#[test]
fn cluster_defaults_and_node_name() {
    let c = config(&format!(
        "{UPSTREAM}[cluster]\nredis = \"redis://127.0.0.1:6379/0\"\n"
    ));
    let cl = c.cluster.expect("cluster set");
    assert_eq!(cl.stream, "preloadd:invalidations");
    assert_eq!(cl.max_len, 100_000);
    assert!(!cl.node.is_empty() && !cl.node.contains('\n'));
    let c = config(&format!("{UPSTREAM}[cluster]\nnode = \"web-1\"\n"));
    assert!(c.cluster.is_none(), "no redis: a single node");
}

#[test]
fn the_example_file_loads() {
    let c = config(EXAMPLE);
    assert_eq!(
        c.upstream.url.authority().map(|a| a.as_str()),
        Some("127.0.0.1:8000")
    );
    assert_eq!(c.cache.dir, PathBuf::from("./preload-cache"));
    assert!(c.cluster.is_none());
    assert_eq!(c.routes.len(), 1);
    assert_eq!(c.schedules.len(), 1);
    assert_eq!(
        c.route_for("/events/2024/").map(|r| r.tags.clone()),
        Some(vec!["events.Event".to_string()])
    );
    assert!(c.route_for("/about/").is_none());
    assert!(c
        .preload
        .ignore_query
        .iter()
        .any(|g| g.matches("utm_source")));
}

#[test]
fn rendering_round_trips() {
    let once = config(EXAMPLE).render();
    let twice = config(&once).render();
    assert_eq!(once, twice);
    assert!(
        once.contains("[upstream]\nurl = \"http://127.0.0.1:8000\"\n"),
        "{once}"
    );
    assert!(once.contains("# token: none"), "{once}");
}

#[test]
fn rendering_round_trips_every_kind_of_value() {
    let text = r#"
        [server]
        listen = ["0.0.0.0:8080", "[::1]:8080"]
        admin_listen = ""
        [upstream]
        url = "http://app.internal:8000/"
        host = "www.example.org"
        [cache]
        dir = "/var/cache/pre\"loadd"
        max_size = "10GB"
        memory = "0"
        statuses = [200, 404]
        on_write_error = "fail"
        [preload]
        prefix = "/_p/"
        [[route]]
        match = "/a/*"
        ttl = "90s"
        vary = ["Accept-Language"]
        [[route]]
        match = "/b"
        snapshot = false
        [invalidate]
        timezone = "-05:30"
        [[schedule]]
        cron = "0 0 * * * * 2099"
        prefixes = ["/a/"]
        urls = ["/b?x=1"]
        soft = true
        [cluster]
        redis = "redis://:secret@127.0.0.1:6379/0"
        node = "web-1"
    "#;
    let env = Some("s3cret".to_string());
    let c = from_str(Path::new("p.toml"), text, env.clone()).expect("loads");
    let once = c.render();
    let again = from_str(Path::new("p.toml"), &once, env).expect("rendering loads");
    assert_eq!(once, again.render());
    assert!(
        once.contains("# token: (set)") && !once.contains("s3cret"),
        "{once}"
    );
    assert!(!once.contains("secret@"), "{once}");
    assert!(once.contains("prefix = \"/_p\""), "{once}");
    assert!(once.contains("max_size = \"10GB\""), "{once}");
}

#[test]
fn the_environment_token_wins() {
    let text = format!("{UPSTREAM}[invalidate]\ntoken = \"from-file\"\n");
    let c = from_str(Path::new("p.toml"), &text, Some("from-env".into())).expect("loads");
    assert_eq!(c.invalidate.token.as_deref(), Some("from-env"));
    let c = from_str(Path::new("p.toml"), &text, None).expect("loads");
    assert_eq!(c.invalidate.token.as_deref(), Some("from-file"));
}

#[test]
fn token_file_is_read_relative_to_the_config_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("token"), "t0ken\n").expect("write token");
    let config_path = dir.path().join("preload.toml");
    let text = format!("{UPSTREAM}[invalidate]\ntoken_file = \"token\"\n");
    let c = from_str(&config_path, &text, None).expect("loads");
    assert_eq!(c.invalidate.token.as_deref(), Some("t0ken"));
    let c = from_str(&config_path, &text, Some("env".into())).expect("loads");
    assert_eq!(c.invalidate.token.as_deref(), Some("env"));
}

#[test]
fn unreadable_token_file_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config_path = dir.path().join("preload.toml");
    let text = format!("{UPSTREAM}[invalidate]\ntoken_file = \"missing\"\n");
    let e = from_str(&config_path, &text, None)
        .expect_err("refused")
        .to_string();
    let expected = format!(
        "{}:4:14: key `invalidate.token_file`: cannot read ",
        config_path.display()
    );
    assert!(e.starts_with(&expected), "{e}");
}

#[test]
fn an_endless_token_file_is_refused_without_reading_it_all() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config_path = dir.path().join("preload.toml");
    let text = format!("{UPSTREAM}[invalidate]\ntoken_file = \"/dev/zero\"\n");
    let e = from_str(&config_path, &text, None)
        .expect_err("refused")
        .to_string();
    assert!(
        e.contains(
            "key `invalidate.token_file`: cannot read /dev/zero: it holds more than 4096 bytes"
        ),
        "{e}"
    );
}

#[test]
fn token_and_token_file_together_are_an_error() {
    let e = problems(
        &format!("{UPSTREAM}[invalidate]\ntoken = \"a\"\ntoken_file = \"b\"\n"),
        Some("env"),
    );
    assert_eq!(e, "preload.toml:5:14: key `invalidate.token_file`: both `token` and `token_file` are set; keep one");
}

#[test]
fn missing_upstream_url_is_reported_without_a_position() {
    let e = problems("", None);
    assert!(
        e.starts_with("preload.toml: key `upstream.url`: required"),
        "{e}"
    );
    let e = problems(
        "[server]\naccess_log = true\n\n[upstream]\nmax_fetches = 2\n",
        None,
    );
    assert!(
        e.starts_with("preload.toml:4:1: key `upstream.url`: required"),
        "{e}"
    );
}

#[test]
fn every_problem_is_reported_one_line_each_in_file_order() {
    let text = "[server]\nmax_connections = 0\n[upstream]\nmax_fetches = 0\n[preload]\nprefix = \"nope\"\n";
    let e = problems(text, None);
    let lines: Vec<&str> = e.lines().collect();
    let expected = [
        "preload.toml:2:19: key `server.max_connections`: must be at least 1",
        "preload.toml:3:1: key `upstream.url`: required",
        "preload.toml:4:15: key `upstream.max_fetches`: must be at least 1",
        "preload.toml:6:10: key `preload.prefix`: \"nope\" must start with \"/\"",
    ];
    assert_eq!(lines.len(), expected.len(), "{e}");
    for (line, start) in lines.iter().zip(expected) {
        assert!(line.starts_with(start), "expected `{start}...`, got:\n{e}");
    }
}

#[test]
fn load_reads_the_file_and_names_it_when_it_cannot() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("preload.toml");
    let e = load(&path).expect_err("missing file").to_string();
    assert!(
        e.starts_with(&format!("{}: cannot read", path.display())),
        "{e}"
    );
    std::fs::write(&path, UPSTREAM).expect("write config");
    assert_eq!(load(&path).expect("loads").source, path);
}

#[test]
fn a_named_timezone_loads_and_renders_by_name() {
    let c = config(&format!(
        "{UPSTREAM}[invalidate]\ndaily = true\ntimezone = \"Europe/Paris\"\n"
    ));
    assert_eq!(
        c.invalidate.timezone,
        Timezone::Named(chrono_tz::Tz::Europe__Paris)
    );
    assert!(
        c.render().contains("timezone = \"Europe/Paris\""),
        "{}",
        c.render()
    );
}

#[test]
fn an_unknown_timezone_is_refused_at_its_position() {
    let e = problems(
        &format!("{UPSTREAM}[invalidate]\ntimezone = \"Europe/Pariss\"\n"),
        None,
    );
    assert!(
        e.starts_with("preload.toml:4:12: key `invalidate.timezone`: invalid timezone"),
        "{e}"
    );
}
