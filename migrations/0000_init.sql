CREATE TABLE `purchases` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`user_id` integer NOT NULL,
	`ticket_id` integer NOT NULL,
	`game_id` integer NOT NULL,
	`quantity` integer NOT NULL,
	`unit_price_minor` integer NOT NULL,
	`total_price_minor` integer NOT NULL,
	`currency` text NOT NULL,
	`created_at` text NOT NULL,
	`idem_principal` text,
	`idem_key` text,
	`idem_hash` text,
	FOREIGN KEY (`ticket_id`) REFERENCES `tickets`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "purchases_quantity_positive" CHECK("purchases"."quantity" >= 1)
);
--> statement-breakpoint
CREATE INDEX `purchases_user_id_idx` ON `purchases` (`user_id`,`id`);--> statement-breakpoint
CREATE INDEX `purchases_ticket_id_idx` ON `purchases` (`ticket_id`,`user_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `purchases_idempotency_idx` ON `purchases` (`idem_principal`,`idem_key`);--> statement-breakpoint
CREATE TABLE `tickets` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`game_id` integer NOT NULL,
	`name` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`type` text DEFAULT 'general' NOT NULL,
	`price_minor` integer NOT NULL,
	`currency` text DEFAULT 'EUR' NOT NULL,
	`stock` integer NOT NULL,
	`sold` integer DEFAULT 0 NOT NULL,
	`max_per_order` integer DEFAULT 10 NOT NULL,
	`max_per_user` integer,
	`active` integer DEFAULT true NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	`idem_principal` text,
	`idem_key` text,
	`idem_hash` text,
	CONSTRAINT "tickets_sold_within_stock" CHECK("tickets"."sold" >= 0 AND "tickets"."sold" <= "tickets"."stock"),
	CONSTRAINT "tickets_price_not_negative" CHECK("tickets"."price_minor" >= 0),
	CONSTRAINT "tickets_max_per_order_range" CHECK("tickets"."max_per_order" BETWEEN 1 AND 100),
	CONSTRAINT "tickets_max_per_user_positive" CHECK("tickets"."max_per_user" IS NULL OR "tickets"."max_per_user" >= 1)
);
--> statement-breakpoint
CREATE INDEX `tickets_game_id_idx` ON `tickets` (`game_id`,`id`);--> statement-breakpoint
CREATE UNIQUE INDEX `tickets_idempotency_idx` ON `tickets` (`idem_principal`,`idem_key`);