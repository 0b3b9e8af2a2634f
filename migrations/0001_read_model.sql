CREATE TABLE `sequences` (
	`name` text PRIMARY KEY NOT NULL,
	`next` integer NOT NULL
);
--> statement-breakpoint
DROP INDEX `purchases_idempotency_idx`;--> statement-breakpoint
DROP INDEX `purchases_user_id_idx`;--> statement-breakpoint
ALTER TABLE `purchases` ADD `version` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `purchases_user_id_idx` ON `purchases` (`user_id`,`created_at`);--> statement-breakpoint
ALTER TABLE `tickets` ADD `sales_start` text;--> statement-breakpoint
ALTER TABLE `tickets` ADD `sales_end` text;--> statement-breakpoint
ALTER TABLE `tickets` ADD `version` integer DEFAULT 0 NOT NULL;