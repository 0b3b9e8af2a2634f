-- Holds: units held apart while a fan pays. Hand-edited from drizzle-kit's
-- output: the new CHECKs go on the new columns, so no table is rebuilt
-- (a rebuild of tickets would fight the foreign key from purchases).
ALTER TABLE `tickets` ADD `held` integer DEFAULT 0 NOT NULL CONSTRAINT "tickets_held_within_stock" CHECK("held" >= 0 AND "sold" + "held" <= "stock");--> statement-breakpoint
ALTER TABLE `tickets` ADD `hold_seconds` integer DEFAULT 900 NOT NULL CONSTRAINT "tickets_hold_seconds_range" CHECK("hold_seconds" BETWEEN 60 AND 3600);--> statement-breakpoint
ALTER TABLE `purchases` ADD `status` text DEFAULT 'confirmed' NOT NULL;--> statement-breakpoint
ALTER TABLE `purchases` ADD `expires_at` text;--> statement-breakpoint
ALTER TABLE `purchases` ADD `confirmed_at` text;--> statement-breakpoint
ALTER TABLE `purchases` ADD `cancelled_at` text;--> statement-breakpoint
UPDATE `purchases` SET `confirmed_at` = `created_at`;--> statement-breakpoint
CREATE INDEX `purchases_user_status_idx` ON `purchases` (`user_id`,`status`,`created_at`);
