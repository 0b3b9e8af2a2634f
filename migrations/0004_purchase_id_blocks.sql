CREATE TABLE `purchase_id_blocks` (
	`start` integer PRIMARY KEY NOT NULL,
	`end` integer NOT NULL,
	`ticket_id` integer NOT NULL
);
