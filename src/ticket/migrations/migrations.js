import journal from './meta/_journal.json';
import m0000 from './0000_ticket_object.sql';
import m0001 from './0001_holds.sql';
import m0002 from './0002_entries.sql';
import m0003 from './0003_checkout_params.sql';
import m0004 from './0004_id_blocks_start.sql';
import m0005 from './0005_events.sql';
import m0006 from './0006_refunds_and_offline_admissions.sql';
import m0007 from './0007_order_lines.sql';
import m0008 from './0008_fewer_pages_per_sale.sql';
import m0009 from './0009_seats.sql';

  export default {
    journal,
    migrations: {
      m0000,
m0001,
m0002,
m0003,
m0004,
m0005,
m0006,
m0007,
m0008,
m0009
    }
  }
  