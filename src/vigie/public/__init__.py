"""The public service for the people concerned: verify a notice, "was I affected?",
"who saw my file?".

One listener (:mod:`vigie.public.app`), started by ``vigie serve`` on ``--public-port``,
meant to sit on the internet behind the controller's proxy. It exposes nothing else:
no processor API, no console, no OpenAPI of internals. Its pages work without
JavaScript, in every language of the notice catalogue, and never answer on screen
whether someone is in the registry: answers go only to the contact on file.

- :mod:`~vigie.public.verify`: is a notice genuine? (by its verification code)
- :mod:`~vigie.public.contacts`: an e-mail address or phone number as typed, normalised
- :mod:`~vigie.public.selfcheck`: look a contact up and send it the answer
- :mod:`~vigie.public.disclosures`, :mod:`~vigie.public.report_links`: "who saw my file?"
- :mod:`~vigie.public.tasks`: self-checks and report requests as jobs, off the request path
- :mod:`~vigie.public.caps`: the daily cap of messages to one contact
- :mod:`~vigie.public.limiter`: rate limits (``limits``), failing closed
- :mod:`~vigie.public.languages`, :mod:`~vigie.public.pages`: the reader's language, pages
"""
