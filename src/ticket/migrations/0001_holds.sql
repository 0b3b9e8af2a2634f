-- Holds and payments. Hand-edited from drizzle-kit's output: the new CHECKs
-- go on the new columns, so the ticket table is not rebuilt.
CREATE TABLE `payment_events` (
	`id` text PRIMARY KEY NOT NULL,
	`handled_at` text NOT NULL
);
--> statement-breakpoint
ALTER TABLE `ticket` ADD `held` integer DEFAULT 0 NOT NULL CONSTRAINT "ticket_held_within_stock" CHECK("held" >= 0 AND "sold" + "held" <= "stock");--> statement-breakpoint
ALTER TABLE `ticket` ADD `hold_seconds` integer DEFAULT 900 NOT NULL CONSTRAINT "ticket_hold_seconds_range" CHECK("hold_seconds" BETWEEN 60 AND 3600);--> statement-breakpoint
ALTER TABLE `purchases` ADD `status` text DEFAULT 'confirmed' NOT NULL;--> statement-breakpoint
ALTER TABLE `purchases` ADD `expires_at` text;--> statement-breakpoint
ALTER TABLE `purchases` ADD `confirmed_at` text;--> statement-breakpoint
ALTER TABLE `purchases` ADD `cancelled_at` text;--> statement-breakpoint
ALTER TABLE `purchases` ADD `checkout_session_id` text;--> statement-breakpoint
ALTER TABLE `purchases` ADD `checkout_url` text;--> statement-breakpoint
ALTER TABLE `purchases` ADD `checkout_expires_at` text;--> statement-breakpoint
ALTER TABLE `purchases` ADD `payment_intent` text;--> statement-breakpoint
ALTER TABLE `purchases` ADD `refund_id` text;--> statement-breakpoint
UPDATE `purchases` SET `confirmed_at` = `created_at`;--> statement-breakpoint
CREATE INDEX `purchases_holds_idx` ON `purchases` (`status`,`expires_at`);
