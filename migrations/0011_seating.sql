CREATE TABLE `seat_blocks` (
	`game_id` integer NOT NULL,
	`block_id` text NOT NULL,
	`name` text NOT NULL,
	`position` integer NOT NULL,
	`map_version` text NOT NULL,
	`layout` text NOT NULL,
	`seats` integer NOT NULL,
	`availability` text NOT NULL,
	`counts` text NOT NULL,
	`version` integer NOT NULL,
	`updated_at` text NOT NULL,
	PRIMARY KEY(`game_id`, `block_id`)
);
--> statement-breakpoint
CREATE TABLE `seatmaps` (
	`game_id` integer PRIMARY KEY NOT NULL,
	`version` text NOT NULL,
	`blocks` text NOT NULL,
	`summary` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
ALTER TABLE `purchases` ADD `seats` text;--> statement-breakpoint
ALTER TABLE `tickets` ADD `seating` text;