-- Images marked for Raspberry Pi HTTP boot (bootloader mode 7): rackboot builds boot.img and boot.sig for them.
ALTER TABLE images ADD COLUMN http_boot INTEGER NOT NULL DEFAULT 0;
