//! The seed's joining rule, shared by `preloadd url` and the Django
//! helper: how extra parameter strings join a path into a preload URL
//! (the origin's `static_preload` tag). Pure string work; whether the
//! result is a target the daemon accepts is [`super::canonical_target`]'s
//! to say.

/// The seed's joining rule (SPEC §3): each extra parameter string loses a
/// leading `?` and surrounding `&`, empty ones are skipped, and the rest are
/// joined with `&` after the path's `?` (or after its own query with `&`).
pub fn join_params(path: &str, params: &[String]) -> String {
    let mut out =
        String::with_capacity(path.len() + params.iter().map(|p| p.len() + 1).sum::<usize>());
    out.push_str(path);
    let mut sep = match path.find('?') {
        None => Some('?'),
        Some(_) if path.ends_with(['?', '&']) => None,
        Some(_) => Some('&'),
    };
    for param in params {
        let param = param.strip_prefix('?').unwrap_or(param).trim_matches('&');
        if param.is_empty() {
            continue;
        }
        out.extend(sep);
        out.push_str(param);
        sep = Some('&');
    }
    out
}

/// The preload URL of `path` with `params` joined by [`join_params`]:
/// `preload_url("/_preload", "/a", &["b=1".into()])` is `/_preload/a?b=1`.
pub fn preload_url(prefix: &str, path: &str, params: &[String]) -> String {
    let prefix = prefix.trim_end_matches('/');
    let slash = if path.starts_with('/') { "" } else { "/" };
    format!("{prefix}{slash}{}", join_params(path, params))
}
