CREATE TABLE `orders` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` integer NOT NULL,
	`status` text NOT NULL,
	`currency` text NOT NULL,
	`total_minor` integer NOT NULL,
	`refunded_minor` integer DEFAULT 0 NOT NULL,
	`lines` text NOT NULL,
	`created_at` text NOT NULL,
	`expires_at` text,
	`confirmed_at` text,
	`cancelled_at` text,
	`version` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `orders_user_idx` ON `orders` (`user_id`,`created_at`,`id`);--> statement-breakpoint
ALTER TABLE `purchases` ADD `order_id` text;--> statement-breakpoint
CREATE INDEX `purchases_order_id_idx` ON `purchases` (`order_id`);