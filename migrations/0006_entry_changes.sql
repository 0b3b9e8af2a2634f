CREATE TABLE `entry_changes` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`entry_id` integer NOT NULL,
	`ticket_id` integer NOT NULL,
	`game_id` integer NOT NULL,
	`status` text NOT NULL,
	`checked_in_at` text,
	`checked_in_gate` text,
	`version` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `entry_changes_version_idx` ON `entry_changes` (`entry_id`,`version`);--> statement-breakpoint
CREATE INDEX `entry_changes_game_idx` ON `entry_changes` (`game_id`,`seq`);