//! kombu's Redis transport, consumed with late acknowledgement.
//!
//! A client `LPUSH`es each message to its queue's list (a priority above 0
//! goes to `<queue>\x06\x16<priority>`); kombu's worker `BRPOP`s it and
//! records it in the `unacked` hash (delivery tag -> `[message, exchange,
//! routing_key]`) and the `unacked_index` sorted set (tag -> time) until it
//! acknowledges. kombu's pop and record are two commands, so a worker that
//! dies between them loses the message. Here one Lua script pops and
//! records atomically; `BLMOVE q q RIGHT RIGHT` (a pop that pushes back to
//! where it popped, atomically) only waits for a message to arrive.
//!
//! A live worker renews the time of each message it holds; a message whose
//! time is older than the visibility timeout belongs to a dead worker and
//! any worker puts it back at the head of its queue (kombu's
//! `restore_visible`, with the same keys, so kombu workers and gluers
//! workers can share a broker).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::{Commands, Connection, Script};
use serde_json::Value;

/// kombu's key of the hash of messages taken but not acknowledged.
pub const UNACKED: &str = "unacked";
/// kombu's key of the sorted set of their delivery times.
pub const UNACKED_INDEX: &str = "unacked_index";
/// kombu's separator between a queue name and a priority.
const PRIORITY_SEP: &str = "\x06\x16";
/// kombu's priority steps: a message's priority is rounded down to one.
const PRIORITY_STEPS: [u8; 4] = [0, 3, 6, 9];

/// Pops the first message of the first non-empty key and records it as
/// unacknowledged, in one step. The stored record is built as text, so the
/// message stays byte for byte what the client sent.
const FETCH: &str = r#"
for i = 3, #KEYS do
  local item = redis.call('RPOP', KEYS[i])
  if item then
    local ok, msg = pcall(cjson.decode, item)
    local tag = ok and type(msg) == 'table' and type(msg['properties']) == 'table'
      and msg['properties']['delivery_tag']
    if type(tag) ~= 'string' then
      return {KEYS[i], item, ''}
    end
    local info = msg['properties']['delivery_info'] or {}
    local ex = info['exchange'] or ''
    local rk = info['routing_key'] or ''
    if type(ex) ~= 'string' then ex = '' end
    if type(rk) ~= 'string' then rk = '' end
    local record = '[' .. item .. ', ' .. cjson.encode(ex) .. ', ' .. cjson.encode(rk) .. ']'
    redis.call('HSET', KEYS[1], tag, record)
    redis.call('ZADD', KEYS[2], ARGV[1], tag)
    return {KEYS[i], item, tag}
  end
end
return false
"#;

/// Puts a held message back at the head of its queue, if it is still held
/// and its time is not newer than ARGV[2] (a worker did not renew it
/// meanwhile). KEYS: unacked, unacked_index, queue; ARGV: tag, ceiling, message.
const RESTORE: &str = r#"
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[2]) then
  return 0
end
redis.call('RPUSH', KEYS[3], ARGV[3])
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"#;

/// Renews a claim only if this worker holds it. KEYS: claim; ARGV: owner, ms.
const RENEW_CLAIM: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"#;

/// Drops a claim only if this worker holds it. KEYS: claim; ARGV: owner.
const RELEASE_CLAIM: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

/// A message taken from a queue: its text and delivery tag.
#[derive(Debug)]
pub struct Fetched {
    /// The queue key it came from.
    pub key: String,
    /// The envelope, as the client wrote it.
    pub raw: String,
    /// The delivery tag; empty when the envelope has none (it was not recorded).
    pub tag: String,
}

/// The Redis transport of one worker.
#[derive(Clone)]
pub struct Broker {
    client: redis::Client,
    keys: Vec<String>,
    visibility: Duration,
    fetch: std::sync::Arc<Script>,
    restore: std::sync::Arc<Script>,
    renew_claim: std::sync::Arc<Script>,
    release_claim: std::sync::Arc<Script>,
}

/// Seconds since the epoch, as kombu records delivery times.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Checks a broker or result backend URL names Redis, the one transport
/// gluers speaks, and opens a client for it (no connection yet).
pub fn open_client(url: &str, what: &str) -> Result<redis::Client, String> {
    let scheme = url.split("://").next().unwrap_or("");
    match scheme {
        "redis" | "unix" | "redis+unix" => {}
        "rediss" => {
            return Err(format!(
                "{what} {url}: TLS (rediss://) is not built into gluers' worker; reach Redis over redis:// (e.g. through a TLS tunnel)"
            ))
        }
        _ => {
            return Err(format!(
                "{what} {url}: gluers' worker speaks Celery's Redis transport only; use redis://host:port/db"
            ))
        }
    }
    redis::Client::open(url).map_err(|e| format!("{what} {url}: {e}"))
}

impl Broker {
    /// A broker consuming `queues` (in priority order) with `visibility` as
    /// the time after which a silent worker's messages are restored.
    pub fn new(client: redis::Client, queues: &[String], visibility: Duration) -> Self {
        // kombu's order: every queue's priority 0, then every queue's 3, ...
        let keys = PRIORITY_STEPS
            .iter()
            .flat_map(|p| queues.iter().map(move |q| priority_key(q, *p)))
            .collect();
        Broker {
            client,
            keys,
            visibility,
            fetch: std::sync::Arc::new(Script::new(FETCH)),
            restore: std::sync::Arc::new(Script::new(RESTORE)),
            renew_claim: std::sync::Arc::new(Script::new(RENEW_CLAIM)),
            release_claim: std::sync::Arc::new(Script::new(RELEASE_CLAIM)),
        }
    }

    /// A new connection, checked with PING.
    pub fn connect(&self) -> redis::RedisResult<Connection> {
        let mut conn = self
            .client
            .get_connection_with_timeout(Duration::from_secs(5))?;
        conn.set_read_timeout(Some(Duration::from_secs(30)))?;
        redis::cmd("PING").query::<String>(&mut conn)?;
        Ok(conn)
    }

    /// The visibility timeout.
    pub fn visibility(&self) -> Duration {
        self.visibility
    }

    /// Takes the next message, waiting up to `wait` for one.
    pub fn fetch(
        &self,
        conn: &mut Connection,
        wait: Duration,
    ) -> redis::RedisResult<Option<Fetched>> {
        if let Some(f) = self.try_fetch(conn)? {
            return Ok(Some(f));
        }
        // Wait on the main queue without taking anything: the message stays
        // where it was, and the atomic pop below takes it.
        let _: Option<String> = redis::cmd("BLMOVE")
            .arg(&self.keys[0])
            .arg(&self.keys[0])
            .arg("RIGHT")
            .arg("RIGHT")
            .arg(wait.as_secs_f64())
            .query(conn)?;
        self.try_fetch(conn)
    }

    fn try_fetch(&self, conn: &mut Connection) -> redis::RedisResult<Option<Fetched>> {
        let mut call = self.fetch.prepare_invoke();
        call.key(UNACKED).key(UNACKED_INDEX);
        for k in &self.keys {
            call.key(k);
        }
        let found: Option<(String, String, String)> = call.arg(now()).invoke(conn)?;
        Ok(found.map(|(key, raw, tag)| Fetched { key, raw, tag }))
    }

    /// Acknowledges a message: it is done and leaves the unacked records.
    pub fn ack(&self, conn: &mut Connection, tag: &str) -> redis::RedisResult<()> {
        redis::pipe()
            .atomic()
            .zrem(UNACKED_INDEX, tag)
            .hdel(UNACKED, tag)
            .query::<()>(conn)
    }

    /// Renews the delivery time of messages this worker holds (only those
    /// still recorded: a restored one is not recorded again).
    pub fn renew(&self, conn: &mut Connection, tags: &[String]) -> redis::RedisResult<()> {
        if tags.is_empty() {
            return Ok(());
        }
        let mut cmd = redis::cmd("ZADD");
        cmd.arg(UNACKED_INDEX).arg("XX").arg("CH");
        let t = now();
        for tag in tags {
            cmd.arg(t).arg(tag);
        }
        cmd.query::<i64>(conn).map(|_| ())
    }

    /// Puts back the messages of workers that stopped renewing them; returns
    /// how many.
    pub fn restore_stale(&self, conn: &mut Connection) -> redis::RedisResult<usize> {
        let ceiling = now() - self.visibility.as_secs_f64();
        let tags: Vec<String> = conn.zrangebyscore_limit(UNACKED_INDEX, "-inf", ceiling, 0, 100)?;
        let mut restored = 0;
        for tag in tags {
            if self.restore_one(conn, &tag, ceiling)? {
                restored += 1;
            }
        }
        Ok(restored)
    }

    /// Puts a message this worker holds back at the head of its queue now
    /// (a run stopped by a cold shutdown).
    pub fn requeue(&self, conn: &mut Connection, tag: &str) -> redis::RedisResult<bool> {
        self.restore_one(conn, tag, f64::MAX)
    }

    fn restore_one(
        &self,
        conn: &mut Connection,
        tag: &str,
        ceiling: f64,
    ) -> redis::RedisResult<bool> {
        let record: Option<String> = conn.hget(UNACKED, tag)?;
        let Some(record) = record else {
            // Acknowledged meanwhile; only the index entry is left.
            let _: i64 = conn.zrem(UNACKED_INDEX, tag)?;
            return Ok(false);
        };
        let Some((message, queue)) = restore_target(&record) else {
            tracing::error!(
                "unacked message {tag} is not a kombu record; it is left in '{UNACKED}'"
            );
            let _: i64 = conn.zrem(UNACKED_INDEX, tag)?;
            return Ok(false);
        };
        let done: i64 = self
            .restore
            .key(UNACKED)
            .key(UNACKED_INDEX)
            .key(queue)
            .arg(tag)
            .arg(if ceiling == f64::MAX {
                "1e300".to_string()
            } else {
                ceiling.to_string()
            })
            .arg(message)
            .invoke(conn)?;
        Ok(done == 1)
    }

    /// Claims a task id for this worker for one visibility timeout; false
    /// when another live worker holds it.
    pub fn claim(
        &self,
        conn: &mut Connection,
        task_id: &str,
        owner: &str,
    ) -> redis::RedisResult<bool> {
        let set: Option<String> = redis::cmd("SET")
            .arg(claim_key(task_id))
            .arg(owner)
            .arg("NX")
            .arg("PX")
            .arg(self.visibility.as_millis() as u64)
            .query(conn)?;
        Ok(set.is_some())
    }

    /// Renews this worker's claims.
    pub fn renew_claims(
        &self,
        conn: &mut Connection,
        task_ids: &[String],
        owner: &str,
    ) -> redis::RedisResult<()> {
        for id in task_ids {
            let _: i64 = self
                .renew_claim
                .key(claim_key(id))
                .arg(owner)
                .arg(self.visibility.as_millis() as u64)
                .invoke(conn)?;
        }
        Ok(())
    }

    /// Drops this worker's claim on a task id.
    pub fn release(
        &self,
        conn: &mut Connection,
        task_id: &str,
        owner: &str,
    ) -> redis::RedisResult<()> {
        let _: i64 = self
            .release_claim
            .key(claim_key(task_id))
            .arg(owner)
            .invoke(conn)?;
        Ok(())
    }
}

/// The key of a worker's claim on a task id (gluers' own, beside kombu's).
fn claim_key(task_id: &str) -> String {
    format!("gluers-worker-claim-{task_id}")
}

/// The list kombu keeps a queue's messages of `priority` in.
fn priority_key(queue: &str, priority: u8) -> String {
    if priority == 0 {
        queue.to_string()
    } else {
        format!("{queue}{PRIORITY_SEP}{priority}")
    }
}

/// The message (marked redelivered, as kombu marks it) and the queue key a
/// `[message, exchange, routing_key]` record goes back to.
fn restore_target(record: &str) -> Option<(String, String)> {
    let parts: Value = serde_json::from_str(record).ok()?;
    let mut message = parts.get(0)?.clone();
    let routing_key = parts.get(2)?.as_str()?.to_string();
    let priority = message
        .pointer("/properties/priority")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let step = PRIORITY_STEPS
        .iter()
        .rev()
        .find(|s| u64::from(**s) <= priority)
        .copied()
        .unwrap_or(0);
    if let Some(h) = message.get_mut("headers").and_then(Value::as_object_mut) {
        h.insert("redelivered".into(), Value::Bool(true));
    }
    if let Some(d) = message
        .pointer_mut("/properties/delivery_info")
        .and_then(Value::as_object_mut)
    {
        d.insert("redelivered".into(), Value::Bool(true));
    }
    Some((message.to_string(), priority_key(&routing_key, step)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_goes_back_to_its_priority_queue_marked_redelivered() {
        let record = r#"[{"headers": {"id": "t"}, "properties": {"priority": 4, "delivery_info": {"routing_key": "celery"}}}, "", "celery"]"#;
        let (message, key) = restore_target(record).unwrap();
        assert_eq!(key, "celery\x06\x163");
        assert!(message.contains(r#""redelivered":true"#), "{message}");
    }

    #[test]
    fn only_redis_urls_are_accepted() {
        assert!(open_client("redis://127.0.0.1:6379/0", "broker").is_ok());
        let e = open_client("amqp://guest@localhost//", "CELERY_BROKER_URL").unwrap_err();
        assert!(e.contains("Redis transport only"), "{e}");
    }
}
