// Placeholder dashboard: shows who is signed in and the API server's health through the REST API.
// The browser is signed in by the one-time link of `sky dashboard` (an HttpOnly session cookie).
const headers = { 'x-sky-api-version': '1' };
const who = document.getElementById('who');
try {
  const res = await fetch('/api/v1/users/me', { headers });
  if (res.ok) {
    const me = await res.json();
    who.textContent = `Signed in as ${me.name} (${me.role}).`;
  } else {
    who.textContent = 'Not signed in: run `sky dashboard` and open the link it prints.';
  }
} catch (err) {
  who.textContent = `cannot reach the API server: ${err}`;
}
const target = document.getElementById('health');
try {
  const res = await fetch('/api/health', { headers });
  const health = await res.json();
  target.textContent = `status: ${health.status}\nversion: ${health.version} (commit ${health.commit})\npid: ${health.pid}`;
} catch (err) {
  target.textContent = `cannot reach the API server: ${err}`;
}
