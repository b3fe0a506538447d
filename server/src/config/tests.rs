//! The configuration's rules, and the shipped files that follow them.

mod rules {
    use std::net::SocketAddr;

    use super::super::*;

    #[test]
    fn a_missing_file_names_its_cause_once() {
        let err =
            Config::from_file(Path::new("/nonexistent/tickstream.toml")).expect_err("no such file");
        let chain = anyhow_like_chain(&err);
        assert_eq!(
            chain.matches("No such file").count(),
            1,
            "the cause is printed once, however the error is reported: {chain}"
        );
    }

    /// What `{:#}` of an error report prints: the message, then each `source()` after a colon.
    fn anyhow_like_chain(e: &dyn std::error::Error) -> String {
        let mut out = e.to_string();
        let mut next = e.source();
        while let Some(cause) = next {
            out.push_str(": ");
            out.push_str(&cause.to_string());
            next = cause.source();
        }
        out
    }

    #[test]
    fn empty_file_is_the_defaults() {
        assert_eq!(
            Config::from_toml("").expect("parses"),
            Config::default(),
            "defaults"
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(
            Config::from_toml("[server]\nlisten_typo = \"1.2.3.4:5\"").is_err(),
            "a typo is an error, not silently ignored"
        );
    }

    #[test]
    fn overrides_win_over_the_file() {
        let mut c = Config::from_toml("[server]\nlisten = \"127.0.0.1:1\"").expect("parses");
        c.apply(&Overrides {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 2))),
            ..Overrides::default()
        });
        assert_eq!(c.server.listen.port(), 2, "the flag wins");
    }

    #[test]
    fn recording_is_off_by_default_and_on_from_the_file_or_the_flag() {
        assert_eq!(Config::default().recording.dir, None, "off by default");
        let c = Config::from_toml("[recording]\ndir = \"rec\"\nkeep_count = 3\nmax_bytes = 8192")
            .expect("parses");
        c.validate().expect("valid");
        assert_eq!(
            c.recording.dir.as_deref(),
            Some(std::path::Path::new("rec")),
            "the file's dir"
        );
        assert_eq!(c.recording.keep_count, 3, "the file's count");
        let mut c = Config::default();
        c.apply(&Overrides {
            record_dir: Some("elsewhere".into()),
            ..Overrides::default()
        });
        assert_eq!(
            c.recording.dir.as_deref(),
            Some(std::path::Path::new("elsewhere")),
            "--record sets it"
        );
        let tiny = Config::from_toml("[recording]\nmax_bytes = 10").expect("parses");
        let err = tiny
            .validate()
            .expect_err("10 bytes cannot hold a recording");
        assert!(
            err.to_string().contains("recording.max_bytes"),
            "names the setting: {err}"
        );
    }

    #[test]
    fn a_view_radius_too_fine_for_the_world_is_refused() {
        let mut c = Config::default();
        c.game.view_radius = 0.5;
        let err = c.validate().expect_err("0.5 units in a 1000-unit world");
        assert!(
            err.to_string().contains("view_radius"),
            "names the setting: {err}"
        );
        c.game.view_radius = 1.0;
        c.validate().expect("1 unit is 1/1000 of the world: fine");
        c.game.view_radius = 0.0;
        c.validate().expect("0 means everything");
    }

    #[test]
    fn the_default_ops_port_is_no_common_exporters() {
        let port = Config::default()
            .server
            .metrics_listen
            .map(|a| a.port())
            .expect("on by default");
        // 9090-9099 are Prometheus' own components, 9100 and up the exporters' registry
        // (node_exporter 9100 first of all): a host running any of them must start us as is.
        assert!(
            !(9090..=9999).contains(&port),
            "port {port} is in the range common exporters take by default"
        );
    }

    #[test]
    fn the_metrics_listener_can_be_switched_off() {
        let c = Config::from_toml("[server]\nmetrics_listen = \"off\"").expect("parses");
        assert_eq!(c.server.metrics_listen, None, "off in the file");
        let c = Config::from_toml("[server]\nmetrics_listen = \"0.0.0.0:9200\"").expect("parses");
        assert_eq!(
            c.server.metrics_listen,
            Some(SocketAddr::from(([0, 0, 0, 0], 9200))),
            "an address in the file"
        );
        assert!(
            Config::from_toml("[server]\nmetrics_listen = \"nine\"").is_err(),
            "garbage is an error"
        );
        let mut c = Config::default();
        c.apply(&Overrides {
            metrics_listen: Some("off".parse().expect("parses")),
            ..Overrides::default()
        });
        assert_eq!(c.server.metrics_listen, None, "off on the command line");
        assert_eq!(
            OptionalAddr(None).to_string().parse::<OptionalAddr>(),
            Ok(OptionalAddr(None)),
            "off round-trips"
        );
    }

    #[test]
    fn log_settings_come_from_file_and_flags() {
        let mut c = Config::from_toml("[log]\nformat = \"json\"").expect("parses");
        assert_eq!(c.log.format, LogFormat::Json, "json from the file");
        c.apply(&Overrides {
            log_format: Some("text".parse().expect("parses")),
            log_filter: Some("debug".into()),
            ..Overrides::default()
        });
        assert_eq!(c.log.format, LogFormat::Text, "the flag wins");
        assert_eq!(c.log.filter, "debug", "the filter flag wins");
        assert!(
            "xml".parse::<LogFormat>().is_err(),
            "unknown formats are errors"
        );
        c.log.filter = "tickstream_server=loud".into();
        assert!(c.validate().is_err(), "an invalid filter is refused");
    }

    #[test]
    fn the_drain_delay_fits_in_the_grace_period() {
        let mut c = Config::default();
        c.server.drain_delay_ms = 2_000;
        c.validate().expect("2 s of delay in 10 s of grace");
        c.server.drain_delay_ms = c.server.shutdown_grace_ms;
        assert!(c.validate().is_err(), "no time left to close the sessions");
    }

    #[test]
    fn agones_is_off_by_default_and_its_periods_are_checked() {
        let c = Config::default();
        assert!(!c.agones.enabled, "Agones is off by default");
        let c = Config::from_toml(
            "[agones]\nsdk_address = \"127.0.0.1:1234\"\nhealth_period_ms = 500\nrequest_timeout_ms = 400",
        )
        .expect("parses");
        c.validate().expect("a valid [agones] section");
        assert_eq!(
            c.agones.sdk_address(),
            SocketAddr::from(([127, 0, 0, 1], 1234)),
            "an explicit address wins over the environment"
        );
        let mut c = Config::default();
        c.agones.request_timeout_ms = c.agones.health_period_ms;
        assert!(
            c.validate().is_err(),
            "a call may not take as long as the health period"
        );
        let mut c = Config::default();
        c.agones.health_period_ms = 10;
        assert!(c.validate().is_err(), "a 10 ms health period is refused");
    }

    #[test]
    fn half_a_tls_pair_is_refused() {
        let mut c = Config::default();
        c.server.tls_cert = Some("cert.pem".into());
        assert!(
            c.validate().is_err(),
            "a certificate without a key is an error"
        );
    }
}

mod assets {
    use super::super::*;

    fn asset(name: &str) -> Config {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../assets")
            .join(name);
        let config = Config::from_file(&path).expect("asset parses");
        config.validate().expect("asset is valid");
        config
    }

    #[test]
    fn the_shipped_config_is_the_defaults() {
        assert_eq!(
            asset("config.toml"),
            Config::default(),
            "assets/config.toml documents the defaults"
        );
    }

    #[test]
    fn every_setting_in_the_shipped_config_is_documented() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let config = std::fs::read_to_string(root.join("assets/config.toml")).expect("reads");
        let docs = std::fs::read_to_string(root.join("docs/CONFIG.md")).expect("reads");
        // Keys at their default, and the optional ones shown commented out (`# ws_listen = …`).
        let keys = config.lines().filter_map(|line| {
            let line = line.trim_start_matches("# ");
            let (key, _) = line.split_once(" = ")?;
            key.bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_')
                .then_some(key)
        });
        let mut n = 0;
        for key in keys {
            n += 1;
            assert!(
                docs.contains(&format!("| `{key}` |")),
                "docs/CONFIG.md documents `{key}`"
            );
        }
        assert!(n > 20, "found the settings ({n})");
    }

    #[test]
    fn the_reference_scenarios_differ_only_in_the_view_radius() {
        let a = asset("scenarios/reference-a.toml");
        let b = asset("scenarios/reference-b.toml");
        assert_eq!(a, Config::default(), "variant A is the default game");
        assert_eq!(b.game.view_radius, 150.0, "variant B sees 150 units");
        let mut b_as_a = b.clone();
        b_as_a.game.view_radius = 0.0;
        assert_eq!(b_as_a, a, "nothing else differs");
    }

    #[test]
    fn the_spectator_delay_is_capped_at_30_seconds() {
        let mut c = Config::default();
        assert_eq!(c.rooms.spectator_delay_ms, 0, "live by default");
        assert_eq!(c.rooms.max_spectators_per_room, 32);
        c.rooms.spectator_delay_ms = 30_000;
        c.validate().expect("30 s is the cap");
        c.rooms.spectator_delay_ms = 30_001;
        let err = c.validate().expect_err("over the cap");
        assert!(
            err.to_string().contains("spectator_delay_ms"),
            "names the setting: {err}"
        );
    }
}
