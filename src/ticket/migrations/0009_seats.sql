CREATE TABLE `seat_requests` (
	`purchase_id` integer PRIMARY KEY NOT NULL,
	`user_id` integer NOT NULL,
	`quantity` integer NOT NULL,
	`hold` integer NOT NULL,
	`unit_price_minor` integer NOT NULL,
	`expires_at` text,
	`block` text NOT NULL,
	`request` text NOT NULL,
	`order_id` text,
	`idem_principal` text,
	`idem_key` text,
	`idem_hash` text,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `seat_requests_user_idx` ON `seat_requests` (`user_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `seat_requests_idempotency_idx` ON `seat_requests` (`idem_principal`,`idem_key`) WHERE "seat_requests"."idem_key" IS NOT NULL;--> statement-breakpoint
ALTER TABLE `entries` ADD `seat` text;--> statement-breakpoint
ALTER TABLE `purchases` ADD `seats` text;--> statement-breakpoint
ALTER TABLE `purchases` ADD `block` text;--> statement-breakpoint
ALTER TABLE `purchases` ADD `block_version` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `purchases_block_due_idx` ON `purchases` (`id`) WHERE "purchases"."block" IS NOT NULL AND "purchases"."block_version" < "purchases"."version";--> statement-breakpoint
ALTER TABLE `ticket` ADD `seating` text;