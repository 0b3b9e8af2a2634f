-- A block keeps its start as its key, so taking an id is one statement and a
-- used-up block can wait for the next one. (Hand-edited from drizzle-kit's
-- output: the old table had no start column, and the object's SQLite takes
-- no PRAGMA here.)
CREATE TABLE `__new_id_blocks` (
	`start` integer PRIMARY KEY NOT NULL,
	`next` integer NOT NULL,
	`end` integer NOT NULL,
	CONSTRAINT "id_blocks_within" CHECK("__new_id_blocks"."start" <= "__new_id_blocks"."next" AND "__new_id_blocks"."next" <= "__new_id_blocks"."end")
);
--> statement-breakpoint
INSERT INTO `__new_id_blocks` (`start`, `next`, `end`) SELECT `next`, `next`, `end` FROM `id_blocks`;--> statement-breakpoint
DROP TABLE `id_blocks`;--> statement-breakpoint
ALTER TABLE `__new_id_blocks` RENAME TO `id_blocks`;
