//! The deployment files are well-formed and agree with the server: the Kubernetes manifests
//! in `deploy/agones/` parse as YAML and carry the fields Agones and Kubernetes require, the
//! config they mount parses and validates as the server's own, their ports, counters and labels
//! are the ones that config uses, and the Dockerfile builds with the README's build command.
//!
//! Kubernetes and Agones cannot run here; these checks are what CI can hold them to. The image
//! itself is built, run and played against by `deploy/image-smoke.sh`.

use std::path::PathBuf;

use tickstream_server::Config;
use tickstream_server::config::AgonesConfig;
use yaml_rust2::{Yaml, YamlLoader};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    let path = root().join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Every document of a YAML file.
fn yaml(path: &str) -> Vec<Yaml> {
    YamlLoader::load_from_str(&read(path)).unwrap_or_else(|e| panic!("{path} is not YAML: {e}"))
}

/// The one document of `kind` in `docs`.
fn of_kind<'a>(docs: &'a [Yaml], kind: &str, path: &str) -> &'a Yaml {
    let found: Vec<&Yaml> = docs
        .iter()
        .filter(|d| d["kind"].as_str() == Some(kind))
        .collect();
    assert_eq!(found.len(), 1, "{path} holds exactly one {kind}");
    found[0]
}

/// A string at `doc[keys…]`, which must be there.
fn string<'a>(doc: &'a Yaml, keys: &[&str], what: &str) -> &'a str {
    let mut at = doc;
    for k in keys {
        at = &at[*k];
    }
    at.as_str()
        .unwrap_or_else(|| panic!("{what}: {} is a string", keys.join(".")))
}

fn int(doc: &Yaml, keys: &[&str], what: &str) -> i64 {
    let mut at = doc;
    for k in keys {
        at = &at[*k];
    }
    at.as_i64()
        .unwrap_or_else(|| panic!("{what}: {} is an integer", keys.join(".")))
}

fn list<'a>(doc: &'a Yaml, keys: &[&str], what: &str) -> &'a [Yaml] {
    let mut at = doc;
    for k in keys {
        at = &at[*k];
    }
    at.as_vec()
        .unwrap_or_else(|| panic!("{what}: {} is a list", keys.join(".")))
}

/// The common fields every Kubernetes object has.
fn assert_object(doc: &Yaml, api_version: &str, kind: &str, path: &str) {
    assert_eq!(
        doc["apiVersion"].as_str(),
        Some(api_version),
        "{path}: the {kind}'s apiVersion"
    );
    let meta = &doc["metadata"];
    assert!(
        meta["name"].as_str().is_some() || meta["generateName"].as_str().is_some(),
        "{path}: the {kind} has a name"
    );
}

/// The config the Fleet mounts, parsed and validated as the server would.
fn fleet_config(docs: &[Yaml]) -> Config {
    let map = of_kind(docs, "ConfigMap", "fleet.yaml");
    assert_object(map, "v1", "ConfigMap", "fleet.yaml");
    let text = string(map, &["data", "config.toml"], "the ConfigMap");
    let config = Config::from_toml(text).expect("the Fleet's config.toml parses as the server's");
    config
        .validate()
        .expect("the Fleet's config.toml is a valid configuration");
    config
}

#[test]
fn the_fleet_runs_the_server_as_an_agones_game_server() {
    let path = "deploy/agones/fleet.yaml";
    let docs = yaml(path);
    let config = fleet_config(&docs);
    assert!(
        config.agones.enabled,
        "the Fleet's servers report to Agones"
    );

    let fleet = of_kind(&docs, "Fleet", path);
    assert_object(fleet, "agones.dev/v1", "Fleet", path);
    let fleet_name = string(fleet, &["metadata", "name"], "the Fleet");
    assert_eq!(
        fleet_name, "tickstream",
        "the name the autoscaler and allocation use"
    );
    assert!(
        int(fleet, &["spec", "replicas"], "the Fleet") >= 1,
        "replicas"
    );
    let gs = &fleet["spec"]["template"]["spec"];

    // The players' port is the server's wss listener.
    let ports = list(gs, &["ports"], "the GameServer template");
    let wss = ports
        .iter()
        .find(|p| p["name"].as_str() == Some("wss"))
        .expect("a port named wss");
    assert_eq!(
        wss["containerPort"].as_i64(),
        Some(i64::from(config.server.listen.port())),
        "the wss port is the server's listen port"
    );
    assert!(
        !config.server.listen.ip().is_loopback(),
        "the server listens beyond loopback inside the pod"
    );
    assert!(
        matches!(
            wss["portPolicy"].as_str(),
            Some("Dynamic" | "Static" | "Passthrough")
        ),
        "the wss port has a port policy"
    );

    // Agones' health check: the server pings more often than Agones checks.
    let period_s = int(gs, &["health", "periodSeconds"], "the health check");
    assert!(
        (config.agones.health_period_ms as i64) < period_s * 1000,
        "the server's health period ({} ms) is shorter than Agones' ({period_s} s)",
        config.agones.health_period_ms
    );
    assert!(
        int(gs, &["health", "failureThreshold"], "the health check") >= 1,
        "a failure threshold"
    );

    // The Counters the server keeps current are declared, with a capacity.
    for counter in [&config.agones.players_counter, &config.agones.rooms_counter] {
        let c = &gs["counters"][counter.as_str()];
        assert!(
            c["capacity"].as_i64().is_some_and(|n| n > 0),
            "the Fleet declares the Counter {counter:?} with a capacity"
        );
    }

    // The pod: the image, the config and certificate mounted, resources, a grace period.
    let pod = &gs["template"]["spec"];
    let grace = int(pod, &["terminationGracePeriodSeconds"], "the pod");
    assert!(
        grace * 1000 > config.server.shutdown_grace_ms as i64,
        "the pod's grace period outlasts the server's drain"
    );
    let containers = list(pod, &["containers"], "the pod");
    let server = &containers[0];
    assert!(
        server["image"].as_str().is_some_and(|i| !i.is_empty()),
        "the container has an image"
    );
    let args: Vec<&str> = list(server, &["args"], "the container")
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    let config_arg = args
        .windows(2)
        .find(|w| w[0] == "--config")
        .map(|w| w[1])
        .expect("the container is started with --config");
    for key in ["cpu", "memory"] {
        assert!(
            server["resources"]["requests"][key].as_str().is_some(),
            "the container requests {key}"
        );
    }
    assert!(
        server["resources"]["limits"]["memory"].as_str().is_some(),
        "the container has a memory limit"
    );
    let mounts = list(server, &["volumeMounts"], "the container");
    let volumes = list(pod, &["volumes"], "the pod");
    let mounted = |volume: &Yaml| {
        let name = volume["name"].as_str().expect("volumes have names");
        mounts
            .iter()
            .find(|m| m["name"].as_str() == Some(name))
            .and_then(|m| m["mountPath"].as_str())
            .unwrap_or_else(|| panic!("volume {name} is mounted"))
    };
    let tls = volumes
        .iter()
        .find(|v| v["secret"]["secretName"].as_str().is_some())
        .expect("the certificate comes from a Secret");
    let tls_dir = mounted(tls);
    for file in [&config.server.tls_cert, &config.server.tls_key] {
        let file = file
            .as_ref()
            .expect("the Fleet's config names a certificate and key");
        assert!(
            file.starts_with(tls_dir),
            "{} is in the Secret's mount {tls_dir}",
            file.display()
        );
    }
    let config_volume = volumes
        .iter()
        .find(|v| v["configMap"]["name"].as_str() == Some("tickstream-config"))
        .expect("the config comes from the ConfigMap");
    assert_eq!(
        format!("{}/config.toml", mounted(config_volume)),
        config_arg,
        "--config names the mounted config.toml"
    );
    let probe_port = server["livenessProbe"]["httpGet"]["port"].as_str();
    let metrics_port = list(server, &["ports"], "the container")
        .iter()
        .find(|p| p["name"].as_str() == probe_port)
        .and_then(|p| p["containerPort"].as_i64());
    assert_eq!(
        metrics_port,
        config.server.metrics_listen.map(|a| i64::from(a.port())),
        "the liveness probe asks the ops listener"
    );
    assert_eq!(
        pod["securityContext"]["runAsNonRoot"].as_bool(),
        Some(true),
        "the pod runs as a non-root user"
    );

    // Handoff on a rolling update: the secret comes from a Secret every version shares, and
    // the ops listener (which serves /internal/handoff) is reachable from other pods.
    let env = list(server, &["env"], "the container");
    let handoff = env
        .iter()
        .find(|e| e["name"].as_str() == Some("TICKSTREAM_HANDOFF_SECRET"))
        .expect("the handoff secret is passed in the environment");
    assert!(
        handoff["valueFrom"]["secretKeyRef"]["name"]
            .as_str()
            .is_some(),
        "from a Secret"
    );
    assert!(
        config
            .server
            .metrics_listen
            .is_some_and(|a| !a.ip().is_loopback()),
        "the ops listener is reachable from the successor's pod"
    );
    assert!(
        config.handoff.timeout_ms < config.server.shutdown_grace_ms,
        "a handoff fits in the drain"
    );
}

/// The capacity of the Fleet's Counter `name`, which must be declared.
fn counter_capacity(fleet: &Yaml, name: &str) -> usize {
    let capacity = int(
        fleet,
        &["spec", "template", "spec", "counters", name, "capacity"],
        "the Fleet's Counters",
    );
    usize::try_from(capacity).expect("a capacity is not negative")
}

#[test]
fn the_servers_caps_keep_every_count_within_its_counter_capacity() {
    // Agones refuses a count beyond a Counter's capacity (pkg/sdkserver/sdkserver.go,
    // UpdateCounter): the count would go unreported, and allocations that filter on the room
    // left would see a full server as having room. So the config's caps bound every count.
    let path = "deploy/agones/fleet.yaml";
    let docs = yaml(path);
    let config = fleet_config(&docs);
    let fleet = of_kind(&docs, "Fleet", path);
    let s = &config.server;
    let rooms = counter_capacity(fleet, &config.agones.rooms_counter);
    let players = counter_capacity(fleet, &config.agones.players_counter);

    // Rooms alive never exceed max_rooms: a join that would create one more is refused, and
    // the rooms a `name` rule starts with the server count against it as well.
    let started = config
        .rooms
        .rule
        .iter()
        .filter(|r| r.name.is_some())
        .count();
    assert!(
        started <= s.max_rooms,
        "the rooms started with the server ({started}) fit max_rooms ({})",
        s.max_rooms
    );
    assert!(
        s.max_rooms <= rooms,
        "max_rooms ({}) must not exceed the rooms Counter's capacity ({rooms})",
        s.max_rooms
    );

    // Players (counting those within their resume grace, who hold no connection) are bounded
    // by the room caps alone: each room holds at most its cap, the largest of
    // max_players_per_room and any rule's own max_players.
    let biggest_room = config
        .rooms
        .rule
        .iter()
        .filter_map(|r| r.max_players)
        .fold(s.max_players_per_room, usize::max);
    let most_players = s.max_rooms.saturating_mul(biggest_room);
    assert!(
        most_players <= players,
        "max_rooms × the biggest room's cap ({} × {biggest_room} = {most_players}) must not \
         exceed the players Counter's capacity ({players})",
        s.max_rooms
    );

    // And the other way: the connection cap lets the server fill to the capacity Agones
    // allocates against, so an allocated match is not refused at the door.
    assert!(
        s.max_connections >= players,
        "max_connections ({}) admits the players Counter's capacity ({players})",
        s.max_connections
    );
}

#[test]
fn the_autoscaler_keeps_a_buffer_of_the_fleet() {
    let path = "deploy/agones/fleetautoscaler.yaml";
    let docs = yaml(path);
    let fas = of_kind(&docs, "FleetAutoscaler", path);
    assert_object(fas, "autoscaling.agones.dev/v1", "FleetAutoscaler", path);
    assert_eq!(
        fas["spec"]["fleetName"].as_str(),
        Some("tickstream"),
        "it scales the tickstream Fleet"
    );
    assert_eq!(
        fas["spec"]["policy"]["type"].as_str(),
        Some("Buffer"),
        "a buffer policy"
    );
    let buffer = &fas["spec"]["policy"]["buffer"];
    assert!(
        buffer["bufferSize"].as_i64().is_some() || buffer["bufferSize"].as_str().is_some(),
        "a buffer size (a number or a percentage)"
    );
    let min = int(buffer, &["minReplicas"], "the buffer");
    let max = int(buffer, &["maxReplicas"], "the buffer");
    assert!(0 < min && min <= max, "0 < minReplicas ≤ maxReplicas");
}

#[test]
fn the_allocation_example_sets_the_labels_the_server_reads() {
    let path = "deploy/agones/gameserverallocation.yaml";
    let docs = yaml(path);
    let gsa = of_kind(&docs, "GameServerAllocation", path);
    assert_object(
        gsa,
        "allocation.agones.dev/v1",
        "GameServerAllocation",
        path,
    );
    let selectors = list(gsa, &["spec", "selectors"], "the allocation");
    assert!(
        selectors
            .iter()
            .any(|s| s["matchLabels"]["agones.dev/fleet"].as_str() == Some("tickstream")),
        "it selects from the tickstream Fleet"
    );
    let defaults = AgonesConfig::default();
    let labels = &gsa["spec"]["metadata"]["labels"];
    let room = string(
        labels,
        &[defaults.room_label.as_str()],
        "the allocation's labels",
    );
    assert!(
        tickstream_shared::RoomName::parse(room).is_ok(),
        "the room label is a valid room name: {room}"
    );
    let game = string(
        labels,
        &[defaults.game_label.as_str()],
        "the allocation's labels",
    );
    let games = tickstream_server::builtin_games(&Config::default());
    assert!(
        games.get(game).is_some(),
        "the game label names a built-in game: {game}"
    );
}

#[test]
fn the_dockerfile_builds_with_the_readme_command_and_runs_unprivileged() {
    let dockerfile = read("Dockerfile");
    let readme = read("README.md");
    let build = dockerfile
        .lines()
        .find_map(|l| {
            let at = l.find("cargo build")?;
            let cmd = l[at..].split("&&").next()?.trim_end_matches('\\').trim();
            Some(cmd.to_owned())
        })
        .expect("the Dockerfile runs cargo build");
    assert!(
        readme.contains(&build),
        "the README shows the Dockerfile's build command `{build}`"
    );
    let stages: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert!(stages.len() >= 2, "a multi-stage build: {stages:?}");
    assert!(
        stages[0].contains("rust:"),
        "built with the Rust toolchain: {}",
        stages[0]
    );
    let last = stages[stages.len() - 1];
    assert!(last.contains("slim"), "run on a slim base: {last}");
    let user = dockerfile
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("the image names its user");
    assert!(
        !matches!(user.trim(), "root" | "0" | "0:0"),
        "the image runs as a non-root user: {user}"
    );
    assert!(
        dockerfile.contains("COPY assets "),
        "the assets are in the image"
    );
    let ignore = read(".dockerignore");
    assert!(
        ignore.lines().any(|l| l.trim() == "target"),
        "the build context leaves out target/"
    );
}
