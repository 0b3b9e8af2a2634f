CREATE TABLE `block` (
	`game_id` integer PRIMARY KEY NOT NULL,
	`block_id` text NOT NULL,
	`name` text NOT NULL,
	`position` integer NOT NULL,
	`map_version` text NOT NULL,
	`clock` integer DEFAULT 0 NOT NULL,
	`projected` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE `holds` (
	`key` integer PRIMARY KEY NOT NULL,
	`ticket_id` integer NOT NULL,
	`state` text NOT NULL,
	`seats` text NOT NULL,
	`ends_at` text,
	`version` integer DEFAULT 0 NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `holds_due_idx` ON `holds` (`state`,`ends_at`);--> statement-breakpoint
CREATE TABLE `seats` (
	`idx` integer PRIMARY KEY NOT NULL,
	`id` text NOT NULL,
	`row` text NOT NULL,
	`seat` text NOT NULL,
	`category` text NOT NULL,
	`rank` integer,
	`accessible` integer DEFAULT false NOT NULL,
	`x` real,
	`y` real,
	`state` text DEFAULT 'free' NOT NULL,
	`holder` integer,
	`ticket_id` integer,
	CONSTRAINT "seats_holder" CHECK(("seats"."state" IN ('held', 'sold')) = ("seats"."holder" IS NOT NULL))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `seats_id_idx` ON `seats` (`id`);