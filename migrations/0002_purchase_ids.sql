-- Purchase ids are handed out in blocks to the ticket objects, above every id already used.
INSERT INTO `sequences` (`name`, `next`) SELECT 'purchases', coalesce(max(`id`), 0) + 1 FROM `purchases`;
