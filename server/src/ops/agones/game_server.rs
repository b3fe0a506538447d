//! [`GameServer`]: what the SDK reports about this game server, as far as the server reads it,
//! and the lines of the watch stream that carry it.

use std::collections::HashMap;

use serde::{Deserialize, Deserializer};

use super::SdkError;

/// The GameServer state in which Agones is shutting the game server down.
pub const STATE_SHUTDOWN: &str = "Shutdown";

/// A GameServer as the SDK reports it: only what the server reads. Unknown fields are
/// ignored and missing or `null` ones are empty, so that a newer Agones adds fields freely.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct GameServer {
    /// Name, namespace and labels.
    #[serde(alias = "objectMeta", deserialize_with = "nullable")]
    pub object_meta: ObjectMeta,
    /// State, address and ports.
    #[serde(deserialize_with = "nullable")]
    pub status: GameServerStatus,
}

/// The GameServer's Kubernetes metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ObjectMeta {
    /// The GameServer's name.
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    /// Its namespace.
    #[serde(deserialize_with = "nullable")]
    pub namespace: String,
    /// Its labels, including those an allocation added.
    #[serde(deserialize_with = "nullable")]
    pub labels: HashMap<String, String>,
}

/// The GameServer's status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct GameServerStatus {
    /// `Scheduled`, `RequestReady`, `Ready`, `Reserved`, `Allocated`, `Shutdown`, …
    #[serde(deserialize_with = "nullable")]
    pub state: String,
    /// The address players connect to.
    #[serde(deserialize_with = "nullable")]
    pub address: String,
    /// The ports players connect to.
    #[serde(deserialize_with = "nullable")]
    pub ports: Vec<Port>,
}

/// One of the GameServer's ports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Port {
    /// The port's name in the Fleet's `ports`.
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    /// The port number players connect to (the host port).
    pub port: i64,
}

/// `null` as the type's default, as protobuf's JSON mapping may write empty fields.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// One line of the watch stream: `{"result": GameServer}` or `{"error": {...}}`.
#[derive(Debug, Deserialize)]
struct WatchLine {
    #[serde(default)]
    result: Option<GameServer>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

/// Parses one line of the watch stream.
pub fn parse_watch_line(line: &[u8]) -> Result<GameServer, SdkError> {
    let parsed: WatchLine = serde_json::from_slice(line)?;
    match (parsed.result, parsed.error) {
        (_, Some(e)) => Err(SdkError::Stream(e.to_string())),
        (Some(gs), None) => Ok(gs),
        (None, None) => Err(SdkError::Stream(
            "a line with neither result nor error".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_game_server_parses() {
        // The example answer of `GET /gameserver` in Agones' REST SDK reference.
        let gs: GameServer = serde_json::from_str(
            r#"{"object_meta":{"name":"local","namespace":"default","uid":"1234","resource_version":"v1",
            "generation":"1","creation_timestamp":"1531795395","annotations":{"annotation":"true"},
            "labels":{"islocal":"true"}},"status":{"state":"Ready","address":"127.0.0.1",
            "ports":[{"name":"default","port":7777}]}}"#,
        )
        .expect("the documented answer parses");
        assert_eq!(gs.object_meta.name, "local", "name");
        assert_eq!(gs.status.state, "Ready", "state");
        assert_eq!(gs.object_meta.labels["islocal"], "true", "labels");
        assert_eq!(gs.status.ports[0].port, 7777, "port");
    }

    #[test]
    fn camel_case_nulls_and_unknown_fields_are_tolerated() {
        let gs: GameServer = serde_json::from_str(
            r#"{"objectMeta":{"name":"gs-1","labels":null},"status":{"state":"Allocated","ports":null,
            "players":{"count":"2"},"counters":{"rooms":{"count":"1"}}},"spec":{"health":{}}}"#,
        )
        .expect("parses");
        assert_eq!(gs.object_meta.name, "gs-1", "camelCase objectMeta");
        assert!(gs.object_meta.labels.is_empty(), "null labels are empty");
        assert!(gs.status.ports.is_empty(), "null ports are empty");
        assert_eq!(gs.status.state, "Allocated", "state");
        let empty: GameServer = serde_json::from_str("{}").expect("an empty object parses");
        assert_eq!(empty, GameServer::default(), "everything defaults");
    }

    #[test]
    fn watch_lines_carry_a_result_or_an_error() {
        let gs = parse_watch_line(br#"{"result":{"status":{"state":"Shutdown"}}}"#)
            .expect("a result line");
        assert_eq!(gs.status.state, STATE_SHUTDOWN, "the state");
        let err = parse_watch_line(br#"{"error":{"grpc_code":14,"message":"unavailable"}}"#)
            .expect_err("an error line");
        assert!(
            matches!(err, SdkError::Stream(ref m) if m.contains("unavailable")),
            "the stream's error is reported: {err}"
        );
        assert!(
            parse_watch_line(b"{not json").is_err(),
            "garbage is an error, not a panic"
        );
        assert!(
            parse_watch_line(b"{}").is_err(),
            "a line with neither is an error"
        );
    }
}
