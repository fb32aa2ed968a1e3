// docker-compose.yml mounts this into /docker-entrypoint-initdb.d: MongoDB's image runs it once, as
// root, when the data volume is new. Each Casemesh service gets its own user (in the admin
// database), allowed to read and write its own database only (and to read casemesh_control); the password comes from the
// container's environment (CASEMESH_MONGO_PASSWORD_<SERVICE>, development values in the compose file).
const services = ["referrals", "approvals", "notifications", "complaints", "contacts", "casework"];
const admin = db.getSiblingDB("admin");
for (const service of services) {
  const variable = `CASEMESH_MONGO_PASSWORD_${service.toUpperCase()}`;
  const password = process.env[variable];
  if (!password) {
    throw new Error(`${variable} is not set`);
  }
  admin.createUser({
    user: `casemesh_${service}`,
    pwd: password,
    // Reading casemesh_control tells `casemesh run` which generation to start (docs/rebuild.md);
    // a rebuild itself needs more: readWrite there and on the new generation's database.
    roles: [
      { role: "readWrite", db: `casemesh_${service}` },
      { role: "read", db: "casemesh_control" },
    ],
  });
}
