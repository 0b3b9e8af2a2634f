CREATE TABLE `entries` (
	`id` integer PRIMARY KEY NOT NULL,
	`purchase_id` integer NOT NULL,
	`status` text DEFAULT 'valid' NOT NULL,
	`checked_in_at` text,
	`checked_in_gate` text,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	`version` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX `entries_purchase_idx` ON `entries` (`purchase_id`);--> statement-breakpoint
CREATE TABLE `scans` (
	`scanner` text NOT NULL,
	`nonce` text NOT NULL,
	`entry_id` integer NOT NULL,
	`answer` text NOT NULL,
	`at` text NOT NULL,
	PRIMARY KEY(`scanner`, `nonce`)
);
--> statement-breakpoint
ALTER TABLE `purchases` ADD `returned` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Purchases confirmed before entries existed get theirs: one per unit.
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
INSERT INTO `entries` (`id`, `purchase_id`, `status`, `created_at`, `updated_at`, `version`)
SELECT p.`id` * 1000 + n.i, p.`id`, 'valid', coalesce(p.`confirmed_at`, p.`created_at`), coalesce(p.`confirmed_at`, p.`created_at`), p.`version`
FROM `purchases` p JOIN n ON n.i <= p.`quantity`
WHERE p.`status` = 'confirmed';
