/** Where apps live: the embedded SQLite database by default, PostgreSQL for a cluster; migrations run at start. */
package berth.store;
