CREATE TABLE `events` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`id` text NOT NULL,
	`type` text NOT NULL,
	`created_at` text NOT NULL,
	`data` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `events_id_unique` ON `events` (`id`);--> statement-breakpoint
CREATE TABLE `lines` (
	`ticket_id` integer PRIMARY KEY NOT NULL,
	`position` integer NOT NULL,
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
	`refunded_minor` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE `order` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` integer NOT NULL,
	`state` text NOT NULL,
	`currency` text,
	`total_minor` integer DEFAULT 0 NOT NULL,
	`refunded_minor` integer DEFAULT 0 NOT NULL,
	`created_at` text NOT NULL,
	`expires_at` text,
	`confirmed_at` text,
	`cancelled_at` text,
	`idem_principal` text,
	`idem_hash` text NOT NULL,
	`attempt` integer DEFAULT 1 NOT NULL,
	`checkout_session_id` text,
	`checkout_url` text,
	`checkout_expires_at` text,
	`checkout_params` text,
	`held_until` text,
	`payment_intent` text,
	`paid_session_id` text,
	`version` integer DEFAULT 0 NOT NULL,
	`projected` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE `payment_events` (
	`id` text PRIMARY KEY NOT NULL,
	`handled_at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `refunds` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`purchase_id` integer NOT NULL,
	`reason` text NOT NULL,
	`payment_intent` text,
	`session_id` text,
	`amount_minor` integer NOT NULL,
	`currency` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`attempt` integer DEFAULT 0 NOT NULL,
	`failures` integer DEFAULT 0 NOT NULL,
	`retry_at` text,
	`stripe_refund_id` text,
	`last_error` text,
	`created_at` text NOT NULL,
	`refunded_at` text,
	CONSTRAINT "refunds_amount_positive" CHECK("refunds"."amount_minor" > 0)
);
--> statement-breakpoint
CREATE INDEX `refunds_pending_idx` ON `refunds` (`status`,`id`);--> statement-breakpoint
CREATE INDEX `refunds_purchase_idx` ON `refunds` (`purchase_id`);