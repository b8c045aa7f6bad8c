/**
 * The app model: what a tenant deploys ({@link berth.apps.App}), its keys defined once ({@link berth.apps.AppKeys}:
 * the table of keys and the app's canonical JSON), how it is launched ({@link berth.apps.Launch}, {@link
 * berth.apps.Procfile}), and the immutable {@link berth.apps.Catalog} of all apps. {@link berth.apps.AppsFile}
 * reads and validates apps files. Immutable values; no threads; the only I/O is reading files. Imports only
 * {@code config}.
 */
package berth.apps;
