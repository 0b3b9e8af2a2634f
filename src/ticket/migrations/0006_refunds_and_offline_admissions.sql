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
CREATE INDEX `refunds_purchase_idx` ON `refunds` (`purchase_id`);--> statement-breakpoint
ALTER TABLE `entries` ADD `ended_at` text;--> statement-breakpoint
ALTER TABLE `entries` ADD `replaces` integer;--> statement-breakpoint
CREATE INDEX `entries_replaces_idx` ON `entries` (`replaces`);--> statement-breakpoint
ALTER TABLE `purchases` ADD `refunded_minor` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `purchases` ADD `paid_session_id` text;--> statement-breakpoint
ALTER TABLE `purchases` ADD `held_until` text;