CREATE TABLE `id_blocks` (
	`next` integer PRIMARY KEY NOT NULL,
	`end` integer NOT NULL,
	CONSTRAINT "id_blocks_not_empty" CHECK("id_blocks"."next" < "id_blocks"."end")
);
--> statement-breakpoint
CREATE TABLE `outbox` (
	`entity` text NOT NULL,
	`entity_id` integer NOT NULL,
	`since` integer NOT NULL,
	`version` integer NOT NULL,
	PRIMARY KEY(`entity`, `entity_id`)
);
--> statement-breakpoint
CREATE INDEX `outbox_since_idx` ON `outbox` (`since`);--> statement-breakpoint
CREATE TABLE `purchases` (
	`id` integer PRIMARY KEY NOT NULL,
	`user_id` integer NOT NULL,
	`quantity` integer NOT NULL,
	`unit_price_minor` integer NOT NULL,
	`total_price_minor` integer NOT NULL,
	`currency` text NOT NULL,
	`created_at` text NOT NULL,
	`version` integer DEFAULT 0 NOT NULL,
	`idem_principal` text,
	`idem_key` text,
	`idem_hash` text,
	CONSTRAINT "purchases_quantity_positive" CHECK("purchases"."quantity" >= 1)
);
--> statement-breakpoint
CREATE INDEX `purchases_user_idx` ON `purchases` (`user_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `purchases_idempotency_idx` ON `purchases` (`idem_principal`,`idem_key`);--> statement-breakpoint
CREATE TABLE `ticket` (
	`id` integer PRIMARY KEY NOT NULL,
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
	`sales_start` text,
	`sales_end` text,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	`version` integer DEFAULT 0 NOT NULL,
	`clock` integer DEFAULT 0 NOT NULL,
	CONSTRAINT "ticket_sold_within_stock" CHECK("ticket"."sold" >= 0 AND "ticket"."sold" <= "ticket"."stock"),
	CONSTRAINT "ticket_price_not_negative" CHECK("ticket"."price_minor" >= 0),
	CONSTRAINT "ticket_max_per_order_range" CHECK("ticket"."max_per_order" BETWEEN 1 AND 100),
	CONSTRAINT "ticket_max_per_user_positive" CHECK("ticket"."max_per_user" IS NULL OR "ticket"."max_per_user" >= 1),
	CONSTRAINT "ticket_sales_window" CHECK("ticket"."sales_start" IS NULL OR "ticket"."sales_end" IS NULL OR "ticket"."sales_end" > "ticket"."sales_start")
);
