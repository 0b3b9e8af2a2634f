-- Lines are keyed by their place: a seated ticket may have a line per block. (Written by drizzle-kit; its copy
-- named the new columns, which the old table lacks, and its PRAGMAs are not needed: no foreign keys.)
CREATE TABLE `__new_lines` (
	`position` integer PRIMARY KEY NOT NULL,
	`ticket_id` integer NOT NULL,
	`quantity` integer NOT NULL,
	`answer` text NOT NULL,
	`refusal` text,
	`game_id` integer,
	`name` text,
	`type` text,
	`unit_price_minor` integer,
	`currency` text,
	`purchase_id` integer,
	`hold_ends` text,
	`settled` text,
	`kept` integer DEFAULT false NOT NULL,
	`refunded_minor` integer DEFAULT 0 NOT NULL,
	`ask` text,
	`seats` text
);
--> statement-breakpoint
INSERT INTO `__new_lines`("position", "ticket_id", "quantity", "answer", "refusal", "game_id", "name", "type", "unit_price_minor", "currency", "purchase_id", "hold_ends", "settled", "kept", "refunded_minor") SELECT "position", "ticket_id", "quantity", "answer", "refusal", "game_id", "name", "type", "unit_price_minor", "currency", "purchase_id", "hold_ends", "settled", "kept", "refunded_minor" FROM `lines`;--> statement-breakpoint
DROP TABLE `lines`;--> statement-breakpoint
ALTER TABLE `__new_lines` RENAME TO `lines`;