PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_events` (
	`seq` integer PRIMARY KEY NOT NULL,
	`id` text NOT NULL,
	`type` text NOT NULL,
	`created_at` text NOT NULL,
	`data` text NOT NULL
);
--> statement-breakpoint
INSERT INTO `__new_events`("seq", "id", "type", "created_at", "data") SELECT "seq", "id", "type", "created_at", "data" FROM `events`;--> statement-breakpoint
DROP TABLE `events`;--> statement-breakpoint
ALTER TABLE `__new_events` RENAME TO `events`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
DROP INDEX `entries_replaces_idx`;--> statement-breakpoint
CREATE INDEX `entries_replaces_idx` ON `entries` (`replaces`) WHERE "entries"."replaces" IS NOT NULL;--> statement-breakpoint
DROP INDEX `purchases_holds_idx`;--> statement-breakpoint
DROP INDEX `purchases_idempotency_idx`;--> statement-breakpoint
DROP INDEX `purchases_order_idx`;--> statement-breakpoint
CREATE INDEX `purchases_holds_idx` ON `purchases` (`expires_at`) WHERE "purchases"."status" = 'held';--> statement-breakpoint
CREATE UNIQUE INDEX `purchases_idempotency_idx` ON `purchases` (`idem_principal`,`idem_key`) WHERE "purchases"."idem_key" IS NOT NULL;--> statement-breakpoint
CREATE INDEX `purchases_order_idx` ON `purchases` (`order_id`) WHERE "purchases"."order_id" IS NOT NULL;