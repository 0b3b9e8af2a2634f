ALTER TABLE `purchases` ADD `order_id` text;--> statement-breakpoint
CREATE INDEX `purchases_order_idx` ON `purchases` (`order_id`);