-- Purchase ids from blocks start a billion above the ones D1 handed out itself
-- (AUTOINCREMENT): while a deploy is under way the previous Worker may still
-- sell that way, and its ids must never meet an id from a block.
UPDATE `sequences`
SET `next` = max(`next`, (SELECT coalesce(max(`id`), 0) + 1000000000 FROM `purchases`))
WHERE `name` = 'purchases';
