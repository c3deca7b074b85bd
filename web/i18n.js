// The words of the web client, Dutch and English: every string is in both
// catalogues (the browser test fails when a key is missing in one).
// Dutch uses "je"; English is plain British English.

export const catalogues = {
  nl: {
    loading: "Laden…",
    ready: "Klaar.",
    load_failed: "Kluis kon niet laden. Vernieuw de pagina; lukt het dan nog niet, vraag je beheerder.",
    switch_language: "English",
    setup_title: "Je praktijk in Kluis",
    setup_intro: "Maak de organisatie aan en je eigen account als beheerder. Daarna nodig je coaches uit.",
    organisation_name: "Naam van de organisatie",
    your_name: "Je naam",
    email: "E-mailadres",
    password: "Wachtwoord",
    password_rule: "Minstens 8 tekens, met een cijfer en een hoofdletter.",
    password_strength: "Sterkte van het wachtwoord",
    create_organisation: "Organisatie aanmaken",
    working: "Even geduld…",
    no_token: "Deze pagina opent met de link die de server bij het starten toont. Kopieer die hele link.",
    link_used: "Deze link is verlopen of al gebruikt. Start de server opnieuw voor een nieuwe link.",
    email_taken: "Dit e-mailadres heeft al een account.",
    weak_password: "Dit wachtwoord is te zwak: {problems}",
    unreachable: "De server is niet bereikbaar. Controleer je verbinding en probeer het opnieuw; wat je hebt ingevuld blijft staan.",
    too_many: "Te veel pogingen. Wacht even en probeer het opnieuw.",
    failed: "Dat lukte niet: {message}",
    recovery_title: "Je herstelsleutel",
    recovery_explain: "Vergeet je je wachtwoord, dan is deze sleutel de enige weg terug naar je gesprekken. Bewaar hem op een veilige plek, offline. Je ziet hem maar één keer.",
    download: "Downloaden als bestand",
    print: "Afdrukken",
    confirm_saved: "Typ de laatste vier tekens van je sleutel",
    saved: "Ik heb hem bewaard",
    recovery_file: "Kluis-herstelsleutel van {email}\n\n{key}\n\nBewaar dit bestand offline. Met deze sleutel krijg je weer toegang tot je gesprekken als je je wachtwoord vergeet.\n",
    invitation_title: "Welkom bij {organisation}",
    invited_as: "Je bent uitgenodigd als {role}, met het adres {email}.",
    invited_by: "{inviter} nodigt je uit als {role}, met het adres {email}.",
    role_client: "cliënt",
    role_coach: "coach",
    role_manager: "beheerder",
    encryption_promise: "Alleen jij en je coach kunnen jullie gesprek lezen. Zelfs de organisatie en Kluis niet.",
    create_account: "Account aanmaken",
    invitation_used: "Deze uitnodiging is verlopen of al gebruikt. Vraag degene die je uitnodigde om een nieuwe.",
    account_exists_login: "Dit adres heeft al een account bij Kluis. Log in en neem de uitnodiging daar aan.",
    signup_done_title: "Je account staat klaar",
    signup_done_text: "Je bent ingelogd bij {organisation}. Als je coach een gesprek begint, verschijnt het hier.",
    done_title: "Je organisatie staat klaar",
    done_text: "Je bent ingelogd als beheerder van {organisation}. Je beheert profielen; wat coaches en cliënten elkaar schrijven, kan niemand anders lezen dan zij.",
  },
  en: {
    loading: "Loading…",
    ready: "Ready.",
    load_failed: "Kluis could not load. Reload the page; if it still fails, ask your administrator.",
    switch_language: "Nederlands",
    setup_title: "Your practice in Kluis",
    setup_intro: "Create the organisation and your own manager account. Then invite your coaches.",
    organisation_name: "Organisation name",
    your_name: "Your name",
    email: "Email address",
    password: "Password",
    password_rule: "At least 8 characters, with a digit and a capital letter.",
    password_strength: "Password strength",
    create_organisation: "Create organisation",
    working: "One moment…",
    no_token: "This page opens with the link the server shows when it starts. Copy that whole link.",
    link_used: "This link has expired or was used already. Restart the server for a new link.",
    email_taken: "This email address already has an account.",
    weak_password: "This password is too weak: {problems}",
    unreachable: "The server cannot be reached. Check your connection and try again; what you entered stays here.",
    too_many: "Too many attempts. Wait a moment and try again.",
    failed: "That did not work: {message}",
    recovery_title: "Your recovery key",
    recovery_explain: "If you forget your password, this key is the only way back to your messages. Keep it somewhere safe, offline. You see it only once.",
    download: "Download as a file",
    print: "Print",
    confirm_saved: "Type the last four characters of your key",
    saved: "I have saved it",
    recovery_file: "Kluis recovery key of {email}\n\n{key}\n\nKeep this file offline. With this key you get back into your messages if you forget your password.\n",
    invitation_title: "Welcome to {organisation}",
    invited_as: "You are invited as {role}, with the address {email}.",
    invited_by: "{inviter} invites you as {role}, with the address {email}.",
    role_client: "client",
    role_coach: "coach",
    role_manager: "manager",
    encryption_promise: "Only you and your coach can read your conversation. Not even the organisation or Kluis can.",
    create_account: "Create account",
    invitation_used: "This invitation has expired or was used already. Ask the person who invited you for a new one.",
    account_exists_login: "This address already has a Kluis account. Sign in and accept the invitation there.",
    signup_done_title: "Your account is ready",
    signup_done_text: "You are signed in at {organisation}. When your coach starts a conversation, it appears here.",
    done_title: "Your organisation is ready",
    done_text: "You are signed in as manager of {organisation}. You manage profiles; what coaches and clients write to each other nobody but them can read.",
  },
};

// The browser's language until the user switches (signed in, the
// account's language preference will decide). Kept on the page only.
export function language() {
  const chosen = document.documentElement.dataset.language;
  if (chosen === "nl" || chosen === "en") return chosen;
  return (navigator.language || "nl").toLowerCase().startsWith("nl") ? "nl" : "en";
}

export function setLanguage(lang) {
  document.documentElement.dataset.language = lang;
  document.documentElement.lang = lang;
}

// The text of `key` in the current language, with {name} filled in.
export function t(key, values = {}) {
  const text = catalogues[language()][key] ?? catalogues.nl[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

// Keys present in one catalogue and not the other.
export function missingKeys() {
  const nl = Object.keys(catalogues.nl);
  const en = Object.keys(catalogues.en);
  return [...nl.filter((k) => !en.includes(k)), ...en.filter((k) => !nl.includes(k))];
}
