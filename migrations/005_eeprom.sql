-- Bootloader EEPROM fleet: images the operator supplies (pieeprom-*.bin, kept in the blob store),
-- bootloader settings per node or per label, and what each node was served and reports.
CREATE TABLE eeprom_images (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  digest      TEXT NOT NULL,
  size        INTEGER NOT NULL,
  -- The BUILD_TIMESTAMP and VERSION strings found in the image, when present.
  build_ts    INTEGER,
  version     TEXT,
  created_at  INTEGER NOT NULL
);

-- settings: JSON object KEY -> value. image: an eeprom_images name, so re-adding an image under
-- its name applies to every rule naming it.
CREATE TABLE eeprom_node_settings (
  node_id     INTEGER PRIMARY KEY REFERENCES nodes(id) ON DELETE CASCADE,
  image       TEXT,
  settings    TEXT NOT NULL DEFAULT '{}',
  updated_at  INTEGER NOT NULL
);

-- label: `key=value`, matching nodes whose labels hold that pair.
CREATE TABLE eeprom_label_settings (
  label       TEXT PRIMARY KEY,
  image       TEXT,
  settings    TEXT NOT NULL DEFAULT '{}',
  updated_at  INTEGER NOT NULL
);

-- What a node was served (a complete pieeprom.upd transfer) and what its bootloader reported.
CREATE TABLE eeprom_state (
  node_id           INTEGER PRIMARY KEY REFERENCES nodes(id) ON DELETE CASCADE,
  served_digest     TEXT,
  served_image      TEXT,
  served_config     TEXT,
  served_at         INTEGER,
  reported_build_ts INTEGER,
  reported_version  TEXT,
  reported_at       INTEGER
);
