import journal from './meta/_journal.json';
import m0000 from './0000_order_object.sql';
import m0001 from './0001_events_rowid.sql';
import m0002 from './0002_seated_lines.sql';

  export default {
    journal,
    migrations: {
      m0000,
m0001,
m0002
    }
  }
  