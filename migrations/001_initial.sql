-- Nodes are known by MAC, by Pi serial, or both once DHCP option 97 links them.
CREATE TABLE nodes (
  id           INTEGER PRIMARY KEY,
  mac          TEXT UNIQUE,
  serial       TEXT UNIQUE,
  model        TEXT,
  arch         TEXT,
  firmware     TEXT,
  hostname     TEXT,
  labels       TEXT NOT NULL DEFAULT '{}',
  ssh_keys     TEXT NOT NULL DEFAULT '[]',
  reserved_ip  TEXT UNIQUE,
  first_seen   INTEGER NOT NULL,
  last_seen    INTEGER NOT NULL,
  CHECK (mac IS NOT NULL OR serial IS NOT NULL)
);

-- One row per (name, version, arch); blobs are sha256 digests into the image store.
CREATE TABLE images (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL,
  version     INTEGER NOT NULL,
  arch        TEXT NOT NULL,
  kernel      TEXT NOT NULL,
  kernel_size INTEGER NOT NULL,
  initrd      TEXT,
  initrd_size INTEGER,
  dtbs        TEXT NOT NULL DEFAULT '{}',
  firmware    TEXT NOT NULL DEFAULT '{}',
  cmdline     TEXT,
  config_txt  TEXT,
  notes       TEXT,
  created_at  INTEGER NOT NULL,
  UNIQUE (name, version, arch)
);

-- Append-only history: the current assignment is derived, so rollback can walk back.
CREATE TABLE assignments (
  id            INTEGER PRIMARY KEY,
  node_id       INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
  image_name    TEXT,
  image_version INTEGER,
  once          INTEGER NOT NULL DEFAULT 0,
  consumed_at   INTEGER,
  created_by    TEXT NOT NULL,
  created_at    INTEGER NOT NULL
);
CREATE INDEX assignments_node ON assignments(node_id, id);

CREATE TABLE leases (
  ip          TEXT PRIMARY KEY,
  mac         TEXT NOT NULL,
  state       TEXT NOT NULL CHECK (state IN ('offered', 'bound', 'declined', 'released')),
  hostname    TEXT,
  expires_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);
CREATE INDEX leases_mac ON leases(mac);

CREATE TABLE events (
  id       INTEGER PRIMARY KEY,
  node_id  INTEGER REFERENCES nodes(id) ON DELETE SET NULL,
  at       INTEGER NOT NULL,
  source   TEXT NOT NULL,
  kind     TEXT NOT NULL,
  detail   TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_node ON events(node_id, id);
CREATE INDEX events_at ON events(at);
