"""Function words: closed-class evidence for re-ranking closely related languages.

On a few words the lite fastText model has too few character n-grams to tell
Dutch from English or German (``De bal is rond.`` -> en 0.95, nl 0.01), while
the grammatical words of a sentence (articles, pronouns, prepositions,
conjunctions, auxiliaries, negation, plus the commonest forms of be/have/can
and, in French, the reporting ``dit``) say it at once: ``de`` is no English
article, ``is`` no German verb. Each list below holds such words of one
language, so a word shared by two languages (``in``, ``was``, ``die``, ``de``)
counts for both and separates neither; only a word that one candidate has and
another lacks tips the balance.

Only words a writer uses *as* function words of the running text count
(``eligible_words``):

* lower-case words: a capitalised ``De`` or ``Van`` inside a sentence is part of
  a name (De Morgen, Van Gaal), and an all-capitals word is an acronym or a
  headline word that has lost its accents (``MAS`` for ``más``, ``EU``);
* the sentence's first word when the word after it is lower-case (``De minister
  is ziek``, but not ``De Morgen`` or ``Die Welt``);
* not name particles between two capitalised words (Vincent van Gogh, Charles
  de Gaulle, Halle an der Saale), nor lower-case parts of a hyphenated or
  dotted name (Saint-Michel-sur-Orge, Will.i.am): an English or French text
  carries them as readily as a Dutch one;
* not the words of a title or a list of names, i.e. a sentence with
  capitalised words beyond its first and no lower-case word but function
  words (``Staring at the Sun``, ``Sam Evans en Joe Hart``): English title
  case keeps exactly the function words lower-case, and they belong to the
  title's language, not the story's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Closed-class words, lower-case. Elided forms keep their apostrophe (l', d',
# dell'): the tokenizer splits "l'Europe" into "l'" + "europe".
FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset("""
        the a an and or but nor of to in on at by for from with about into onto over after before per
        between under through during without against among since until upon within than as
        that this these those which who whom whose what where when why how whether
        it its he him his she her hers we us our ours they them their theirs you your yours
        i me my mine is are was were be been being am has have had having do does did
        will would shall should can could may might must not no also there here very then
        so if because while although though all any some each every both either neither
        more most only just such own same other another it' don' doesn' didn' isn' wasn'
        aren' can' won' n't i' he' she' we' they' you' that' there' what' let'
    """.split()),
    "nl": frozenset("""
        de het een en of maar want dus noch van in op aan met voor door bij naar uit over om te
        tot tegen tussen onder na zonder sinds tijdens volgens binnen buiten achter boven
        dat die dit deze wat wie waar wanneer hoe waarom welke welk wiens
        ik je jij u hij zij ze wij we jullie hun hen mij me mijn jouw zijn haar ons onze uw
        is was waren ben bent wordt worden werd werden word heeft hebben had hadden heb hebt
        zal zullen zou zouden kan kunnen kon konden moet moeten mag mogen wil willen
        niet geen ook nog al wel er hier daar nu toen als dan zo heel zeer meer veel alle
        elk elke ieder iedere iets niets niemand omdat terwijl hoewel reeds eens echter
        't 'n
    """.split()),
    "af": frozenset("""
        die 'n en of maar want dus van in op aan met vir deur by na uit oor om te tot teen
        tussen onder sonder sedert volgens binne buite agter bo voor
        dat wat wie waar wanneer hoe waarom watter wie se
        ek jy u hy sy dit ons julle hulle my jou hom haar hul
        is was wees word het sal sou kan kon moet mag wil
        nie geen ook nog al reeds hier daar nou toe as dan so baie meer alle elke elkeen almal
        iets niks niemand omdat terwyl hoewel hierdie daardie een
    """.split()),
    "de": frozenset("""
        der die das des dem den ein eine einen einem einer eines und oder aber denn sondern
        von vom zu zum zur in im ins an am auf aus bei beim mit nach seit für gegen ohne um
        über unter vor zwischen durch während wegen bis als wie dass daß ob wenn weil obwohl
        ich du er sie es wir ihr mich mir dich dir sich uns euch ihn ihm ihnen
        mein meine dein deine sein seine seiner seinen seinem seines ihre ihren ihrem ihres
        unser unsere
        ist sind war waren bin bist wird werden wurde wurden hat haben hatte hatten habe
        kann können konnte muss muß müssen soll sollen will wollen darf
        nicht kein keine keinen keinem keiner auch noch schon nur sehr hier dort da so dann
        jetzt nun mehr alle jeder jede jedes dies diese dieser dieses diesen welche welcher
        welches was wer wo wann warum
    """.split()),
    "fr": frozenset("""
        le la les l' un une des du de d' et ou mais donc or ni car à au aux en dans par pour sur
        sous avec sans chez entre vers contre pendant depuis avant après selon
        que qu' qui quoi dont où quand comment pourquoi si comme
        ce cet cette ces c' ceci cela ça
        je j' tu il elle on nous vous ils elles me m' te t' se s' lui leur leurs y
        mon ma mes ton ta tes son sa ses notre nos votre vos
        est sont était étaient être été a ont avait avaient avoir sera seront fait peut
        doit dit ne n' non pas plus aussi très déjà encore tout tous toute toutes ici là puis alors
        jusqu' lorsqu' puisqu' quelqu'
    """.split()),
    "es": frozenset("""
        el la los las lo un una unos unas y e o u ni pero sino de del a al en con por para
        sin sobre entre hasta desde hacia contra según durante ante bajo tras
        que quien quienes cual cuales cuyo cuya donde cuando como porque si
        este esta estos estas ese esa esos esas aquel aquella esto eso
        yo tú él ella ello nosotros nosotras vosotros ellos ellas usted ustedes
        me te se nos os le les mi mis tu tus su sus nuestro nuestra nuestros nuestras
        es son era eran fue fueron ser sido está están estaba estaban estar
        ha han había habían haber hay será serán puede pueden
        no sí también ya muy más todo todos toda todas aquí allí ahora nadie nada algo cada
    """.split()),
    "pt": frozenset("""
        o a os as um uma uns umas e ou mas nem de do da dos das em no na nos nas num numa
        ao aos à às com por pelo pela pelos pelas para sem sobre entre até desde contra
        segundo durante perante sob após
        que quem qual quais cujo cuja onde quando como porque se
        este esta estes estas esse essa esses essas isso isto aquele aquela aquilo
        eu tu ele ela nós vós eles elas você vocês me te lhe lhes
        meu minha meus minhas seu sua seus suas nosso nossa nossos nossas
        é são era eram foi foram ser sido está estão estava estavam estar
        tem têm tinha tinham ter há havia será serão pode podem
        não sim também já muito mais todo todos toda todas aqui ali agora ninguém nada algo cada
    """.split()),
    "it": frozenset("""
        il lo la i gli le l' un uno una un' e ed o od ma né di del dello della dei degli delle
        dell' a ad al allo alla ai agli alle all' da dal dallo dalla dai dagli dalle dall'
        in nel nello nella nei negli nelle nell' con su sul sullo sulla sui sugli sulle sull'
        per tra fra senza contro verso durante dopo prima
        che chi cui quale quali dove quando come perché se
        questo questa questi queste quello quella quelli quelle
        io tu lui lei noi voi loro mi ti si ci vi ne
        mio mia miei mie tuo tua suo sua suoi sue nostro nostra nostri nostre
        è sono era erano fu furono essere stato stata stati ha hanno aveva avevano avere
        avuto sarà può
        non anche già molto più tutto tutti tutta tutte qui qua lì là ora ancora sempre
        nessuno niente ogni c'
    """.split()),
}

ANY_FUNCTION_WORD = frozenset().union(*FUNCTION_WORDS.values())

# A word: letters, optionally ending in an apostrophe (elision: l', dell', it');
# English n't as tokenised apart ("does n't", else it would read as French n');
# the Afrikaans article 'n and Dutch 't.
_WORD = re.compile(r"n't(?![^\W\d_])|'[nt](?![^\W\d_])|[^\W\d_]+'?")
# A sentence ends at . ! ? followed by a space (not inside Will.i.am or 1.5) or at a line break.
_BOUNDARY = re.compile(r"[.!?]\W*\s|\n")
# Lower-case words that join the parts of personal and place names (Vincent van
# Gogh, Charles de Gaulle, Leonardo da Vinci, Ortega y Gasset, Frankfurt am
# Main, Halle an der Saale, Newcastle upon Tyne). A run of at most
# _PARTICLE_RUN of them between two capitalised words is part of the name.
NAME_PARTICLES = frozenset("""
    van von de der den del della delle dei degli di da das dos do du des la le lo ten ter te
    zu zur y e i al el bin ibn ben af av am an ob upon 't d' l' dal dalla dello
""".split())
_PARTICLE_RUN = 3


def _is_capitalised(w: str) -> bool:
    return w[:1].isupper()


@dataclass
class _Tok:
    word: str
    initial: bool  # first word of a sentence
    joined: bool  # joined to the previous word by - or . (Saint-Michel-sur-Orge, Will.i.am)
    in_name: bool = False


def _tokens(seg: str) -> list[_Tok]:
    toks: list[_Tok] = []
    last_end = 0
    for m in _WORD.finditer(seg):
        gap = seg[last_end:m.start()]
        toks.append(_Tok(m.group(), not toks or bool(_BOUNDARY.search(gap)), bool(toks) and gap in ("-", ".")))
        last_end = m.end()
    return toks


def _mark_names(toks: list[_Tok]) -> None:
    """Flag lower-case words inside names: particles between two capitalised
    words, and every part of a hyphenated or dotted compound with a capitalised part."""
    i = 0
    while i < len(toks):
        j = i
        while j < len(toks) and toks[j].word in NAME_PARTICLES and not toks[j].initial:
            j += 1
        if (i < j <= i + _PARTICLE_RUN and i > 0 and j < len(toks) and not toks[j].initial
                and _is_capitalised(toks[i - 1].word) and _is_capitalised(toks[j].word)):
            for t in toks[i:j]:
                t.in_name = True
        i = max(j, i + 1)
    i = 0
    while i < len(toks):
        j = i + 1
        while j < len(toks) and toks[j].joined:
            j += 1
        if j - i > 1 and any(_is_capitalised(t.word) for t in toks[i:j]):
            for t in toks[i:j]:
                t.in_name = True
        i = j


def _sentences(toks: list[_Tok]) -> list[list[_Tok]]:
    sents: list[list[_Tok]] = []
    for t in toks:
        if t.initial or not sents:
            sents.append([])
        sents[-1].append(t)
    return sents


def _is_title(sent: list[_Tok]) -> bool:
    """A title or a list of names: capitalised words beyond the first and no
    lower-case word but function words (Staring at the Sun, Sam Evans en Joe
    Hart). Its function words belong to the name, not to the running text."""
    lower = [t.word for t in sent if t.word.islower() and not t.in_name]
    return any(_is_capitalised(t.word) for t in sent[1:]) and all(w in ANY_FUNCTION_WORD for w in lower)


def eligible_words(segments: list[str]) -> list[str]:
    """Lower-cased words of ``segments`` that may count as function words of the text.

    Each segment (headline, body) starts a sentence; so do ``.!?`` before a
    space, and line breaks. See the module docstring for which words are left out.
    """
    out: list[str] = []
    for seg in segments:
        toks = _tokens(seg.replace("\u2019", "'"))
        _mark_names(toks)
        for sent in _sentences(toks):
            if _is_title(sent):
                continue
            for n, t in enumerate(sent):
                if t.in_name:
                    continue
                if t.word.islower():
                    out.append(t.word)
                elif n == 0 and (len(t.word) == 1 or t.word[1:].islower()) and len(sent) > 1:
                    nxt = sent[1]
                    if nxt.word.islower() and not nxt.in_name:
                        out.append(t.word.lower())
    return out


def hits(words: list[str], lang: str) -> int:
    """How many of ``words`` are function words of ``lang`` (0 for a language without a list)."""
    fw = FUNCTION_WORDS.get(lang)
    return sum(w in fw for w in words) if fw else 0
